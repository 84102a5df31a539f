import type { FileDescriptors } from "./descriptors.js";
import type { FolderLayout } from "./layout.js";

/** What TreeFiles needs of node: passed in, because it also runs inside the piece worker's source text (download/piece-worker.ts). */
export interface TreeFilesDeps {
  fs: typeof import("node:fs");
  path: typeof import("node:path");
}

/**
 * The table of descriptors shared with the creator and the hashing thread
 * (folder/descriptors.ts): a file the creator made is written through the
 * descriptor it left, and a file written whole is left open for the hashing
 * thread, up to `writtenLimit` of them.
 */
export interface TreeFilesHandoff {
  descriptors: FileDescriptors;
  writtenLimit: number;
}

/**
 * A folder download's files under its part tree (`<dest>.part/tree`), read
 * and written at positions of the folder's stream: a write is cut at file
 * boundaries by the layout (folder/layout.ts) and each run goes to its file
 * at its offset, so a verified piece lands in the files themselves, with no
 * stream file and no copy at the end.
 *
 * The part tree is the user's own folder, so anything found there that this
 * code did not make is refused rather than followed or written through:
 * - a directory is made with mkdir, or, when it exists (a resumed download),
 *   taken only if lstat says it is a directory (a symlink is not);
 * - a file is created with O_CREAT|O_EXCL|O_NOFOLLOW; when it exists (made
 *   by the creator thread, folder/create-ahead.ts; a resumed download; or a
 *   file evicted from the descriptor cache) it is reopened with O_NOFOLLOW (a symlink fails with ELOOP) and taken only if
 *   it is a regular file with one link (a hard link planted there would make
 *   a write land in another file of the user's).
 * Node has no openat, so a directory swapped for a symlink between its check
 * and an open below it is not caught; that needs someone racing this agent
 * inside the user's own part area.
 *
 * Descriptors are kept open, at most `maxOpen` of them (least recently used
 * closed first): consecutive pieces touch the same files at their edges, and
 * a folder holds more files than descriptors should be held open. With a
 * handoff, every descriptor this writer holds is also in the shared table,
 * so that one left open by a writer that stopped abruptly is still closed.
 *
 * It uses nothing from the module around it (see TreeFilesDeps): the piece
 * worker runs its source text.
 */
export class TreeFiles {
  readonly #fs: typeof import("node:fs");
  readonly #path: typeof import("node:path");
  readonly #root: string;
  readonly #layout: FolderLayout;
  readonly #maxOpen: number;
  /** File index → descriptor; a Map keeps insertion order, so re-inserting on use makes the first key the least recently used. */
  readonly #open = new Map<number, number>();
  /** Directories (relative, `/`-separated) made or checked by this instance. */
  readonly #checkedDirs = new Set<string>();
  /**
   * The creator thread's and this writer's claims on each file (folder/create-ahead.ts), or none when no creator
   * runs: then this writer makes every file.
   */
  readonly #createState: Int32Array | undefined;
  readonly #handoff: TreeFilesHandoff | undefined;
  /** Files this instance opened before: made or checked by it, so reopening one after its descriptor was closed skips the attempt to create it. */
  readonly #seen: Uint8Array;
  /** Bytes of each file not written yet (by this instance, or by an earlier run: markWritten()). */
  readonly #unwritten: Float64Array;
  /** Each file's size and modification time once its last byte was written (taken as it is closed then), NaN before: the fingerprint without a stat pass. */
  readonly #sizes: Float64Array;
  readonly #mtimes: Float64Array;

  constructor(deps: TreeFilesDeps, root: string, layout: FolderLayout, maxOpen: number, createState?: Int32Array, handoff?: TreeFilesHandoff) {
    this.#fs = deps.fs;
    this.#path = deps.path;
    this.#root = root;
    this.#layout = layout;
    this.#maxOpen = Math.max(1, maxOpen);
    this.#createState = createState;
    this.#handoff = handoff;
    this.#seen = new Uint8Array(layout.entries.length);
    this.#unwritten = Float64Array.from(layout.entries, (entry) => entry.size);
    this.#sizes = new Float64Array(layout.entries.length).fill(NaN);
    this.#mtimes = new Float64Array(layout.entries.length).fill(NaN);
  }

  /**
   * Writes `length` bytes of `data` at stream position `position`, into every
   * file they span. A file whose last byte this writes is done with here: no
   * piece touches it again, so its descriptor makes room for the files still
   * being filled (it is handed on to the hashing thread, folder/stream-hash.ts,
   * which reads the file back, or closed), and its size and modification time
   * are final.
   */
  write(data: Uint8Array, length: number, position: number): void {
    let done = 0;
    for (const run of this.#layout.segments(position, length)) {
      const fd = this.#fd(run.index);
      for (let written = 0; written < run.length; ) {
        written += this.#fs.writeSync(fd, data, done + written, run.length - written, run.offset + written);
      }
      done += run.length;
      if ((this.#unwritten[run.index]! -= run.length) <= 0) this.#finish(run.index, fd);
    }
  }

  /** Stream bytes [position, position + length) were written by an earlier run (a resumed download's verified pieces): they are not written again. */
  markWritten(position: number, length: number): void {
    for (const run of this.#layout.segments(position, length)) this.#unwritten[run.index]! -= run.length;
  }

  /**
   * The folder's size and its files' latest modification time, as
   * folderFingerprint (folder/scan.ts) would find them, once every piece is
   * written: taken from each file's descriptor as its last byte was written,
   * so the 10,000 stats of a pass after the download are not needed (0.1–0.4 s
   * in bench:folders). A file this instance did not finish (one an earlier run
   * wrote) is stat'ed here, without following a symlink.
   * Undefined when a file is missing, not a regular file, or of another size.
   */
  fingerprint(): { size: number; mtimeMs: number } | undefined {
    let size = 0;
    let mtimeMs = 0;
    for (const [index, entry] of this.#layout.entries.entries()) {
      if (Number.isNaN(this.#mtimes[index]!)) {
        const info = this.#fs.lstatSync(this.#path.join(this.#root, ...entry.path.split("/")), { throwIfNoEntry: false });
        if (!info?.isFile()) return undefined;
        this.#sizes[index] = info.size;
        this.#mtimes[index] = info.mtimeMs;
      }
      if (this.#sizes[index] !== entry.size) return undefined;
      size += entry.size;
      mtimeMs = Math.max(mtimeMs, this.#mtimes[index]!);
    }
    return { size, mtimeMs };
  }

  /** Makes the files no piece writes (empty ones), so the tree is whole once every piece is written. */
  createEmptyFiles(): void {
    this.#layout.entries.forEach((entry, index) => {
      if (entry.size === 0) this.#finish(index, this.#fd(index));
    });
  }

  /**
   * Done with a file no byte will be written to again, taking its size and modification time for fingerprint(): its
   * descriptor is handed on to the hashing thread (an empty file is not read back) or closed.
   */
  #finish(index: number, fd: number): void {
    const info = this.#fs.fstatSync(fd);
    this.#sizes[index] = info.size;
    this.#mtimes[index] = info.mtimeMs;
    this.#open.delete(index);
    const handoff = this.#handoff;
    if (handoff && info.size > 0 && handoff.descriptors.handOn(handoff.writtenLimit)) return;
    this.#closeFile(index, fd);
  }

  close(): void {
    for (const [index, fd] of this.#open) this.#closeFile(index, fd);
    this.#open.clear();
  }

  /** Closes a descriptor this writer holds, out of the shared table first (descriptors.ts says why that order). */
  #closeFile(index: number, fd: number): void {
    this.#handoff?.descriptors.release(index);
    this.#fs.closeSync(fd);
  }

  #fd(index: number): number {
    const cached = this.#open.get(index);
    if (cached !== undefined) {
      this.#open.delete(index);
      this.#open.set(index, cached);
      return cached;
    }
    if (this.#open.size >= this.#maxOpen) {
      const [oldest, fd] = this.#open.entries().next().value as [number, number];
      this.#open.delete(oldest);
      this.#closeFile(oldest, fd);
    }
    const exists = this.#exists(index);
    // A file the creator made with O_EXCL is new and this download's: its descriptor is written through, unchecked.
    let fd = exists === "made" ? (this.#handoff?.descriptors.claimMade(index) ?? -1) : -1;
    if (fd < 0) {
      const entry = this.#layout.entries[index]!;
      const parts = entry.path.split("/");
      for (let depth = 1; depth < parts.length; depth++) this.#directory(parts.slice(0, depth));
      const opened = this.#openFile(this.#path.join(this.#root, ...parts), entry.size, exists !== "new");
      fd = this.#handoff ? this.#handoff.descriptors.hold(index, opened) : opened;
      if (fd !== opened) this.#fs.closeSync(opened);
    }
    this.#open.set(index, fd);
    this.#seen[index] = 1;
    return fd;
  }

  /**
   * Whether file `index` is there already: opened before by this instance
   * ("seen"), or made by the creator thread ("made"), so opening it skips the
   * attempt to create it; "new" when this writer is to create it.
   * Claims an untouched file from the creator. One the creator is making is
   * not waited for (a creator thread descheduled mid-create, on a busy
   * machine, would hold the writer for its time slice): the writer's own
   * O_EXCL create settles it, and whichever thread loses finds the name
   * taken (the writer then opens it by the rules for a file found there).
   */
  #exists(index: number): "seen" | "made" | "new" {
    if (this.#seen[index] === 1) return "seen";
    const state = this.#createState;
    if (!state) return "new";
    // The values of CreateState (create-ahead.ts), repeated: this class runs as source text in the piece worker.
    const [UNTOUCHED, MADE, WRITER] = [0, 2, 4];
    return Atomics.compareExchange(state, index, UNTOUCHED, WRITER) === MADE ? "made" : "new";
  }

  /** Makes the directory `parts` (its parents are checked already), or takes the one there if it is a real directory. */
  #directory(parts: string[]): void {
    const key = parts.join("/");
    if (this.#checkedDirs.has(key)) return;
    const full = this.#path.join(this.#root, ...parts);
    try {
      this.#fs.mkdirSync(full);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      if (!this.#fs.lstatSync(full).isDirectory()) throw new Error(`${full} is not a directory this download made (a symlink or a file put there); not writing through it`);
    }
    this.#checkedDirs.add(key);
  }

  /** openSync; out of descriptors (a lower limit than maxOpen allows for), closes the older half of those kept and tries again once. */
  #openSync(full: string, flags: number): number {
    try {
      return this.#fs.openSync(full, flags);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== "EMFILE" && code !== "ENFILE") || this.#open.size === 0) throw error;
    }
    for (const [index, fd] of [...this.#open].slice(0, Math.ceil(this.#open.size / 2))) {
      this.#open.delete(index);
      this.#closeFile(index, fd);
    }
    return this.#fs.openSync(full, flags);
  }

  /** Creates the file new (unless it is `exists`: made ahead), or reopens the one this download made before; never follows a symlink. */
  #openFile(full: string, size: number, exists: boolean): number {
    const { O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW } = this.#fs.constants;
    if (!exists) {
      try {
        return this.#openSync(full, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
    }
    const foreign = () => new Error(`${full} is not a file this download made (a symlink or a link put there); not writing through it`);
    let fd: number;
    try {
      fd = this.#openSync(full, O_RDWR | O_NOFOLLOW);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ELOOP") throw foreign();
      throw error;
    }
    const info = this.#fs.fstatSync(fd);
    if (!info.isFile() || info.nlink !== 1) {
      this.#fs.closeSync(fd);
      throw foreign();
    }
    // A file longer than the manifest says (it cannot be one of ours) is cut, so the tree holds the stream and nothing else.
    if (info.size > size) this.#fs.ftruncateSync(fd, size);
    return fd;
  }
}
