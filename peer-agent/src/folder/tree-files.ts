import type { FolderLayout } from "./layout.js";

/** What TreeFiles needs of node: passed in, because it also runs inside the piece worker's source text (download/piece-worker.ts). */
export interface TreeFilesDeps {
  fs: typeof import("node:fs");
  path: typeof import("node:path");
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
 * - a file is created with O_CREAT|O_EXCL|O_NOFOLLOW; when it exists (a
 *   resumed download, or a file evicted from the descriptor cache) it is
 *   reopened with O_NOFOLLOW (a symlink fails with ELOOP) and taken only if
 *   it is a regular file with one link (a hard link planted there would make
 *   a write land in another file of the user's).
 * Node has no openat, so a directory swapped for a symlink between its check
 * and an open below it is not caught; that needs someone racing this agent
 * inside the user's own part area.
 *
 * Descriptors are kept open, at most `maxOpen` of them (least recently used
 * closed first): consecutive pieces touch the same files at their edges, and
 * a folder holds more files than descriptors should be held open.
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
  /** Files made by createAhead(), empty and closed: opened by the rules for a file found there. */
  #madeAhead: Uint8Array | undefined;
  /** Creations of createAhead() under way; close() stops new ones, whenIdle() waits for these. */
  #creating = 0;
  #stopped = false;
  /** Files before this index were released (see release()). */
  #released = 0;
  #idle: (() => void)[] = [];

  constructor(deps: TreeFilesDeps, root: string, layout: FolderLayout, maxOpen: number) {
    this.#fs = deps.fs;
    this.#path = deps.path;
    this.#root = root;
    this.#layout = layout;
    this.#maxOpen = Math.max(1, maxOpen);
  }

  /** Writes `length` bytes of `data` at stream position `position`, into every file they span. */
  write(data: Uint8Array, length: number, position: number): void {
    let done = 0;
    for (const run of this.#layout.segments(position, length)) {
      const fd = this.#fd(run.index);
      for (let written = 0; written < run.length; ) {
        written += this.#fs.writeSync(fd, data, done + written, run.length - written, run.offset + written);
      }
      done += run.length;
    }
  }

  /** Reads up to `length` stream bytes at `position` into `buffer`; fewer only when a file is shorter than the manifest says. */
  read(buffer: Uint8Array, length: number, position: number): number {
    let done = 0;
    for (const run of this.#layout.segments(position, length)) {
      const fd = this.#fd(run.index);
      for (let read = 0; read < run.length; ) {
        const got = this.#fs.readSync(fd, buffer, done + read, run.length - read, run.offset + read);
        if (got === 0) return done + read;
        read += got;
      }
      done += run.length;
    }
    return done;
  }

  /**
   * Creates the files in stream order, empty, `parallel` at a time through
   * libuv's thread pool, ahead of the pieces that will fill them: creating a
   * file costs ~100 µs of the kernel (bench:folders, 10,000 files), which on
   * the piece worker's thread would hold every piece behind it. Creating is
   * all it does (O_CREAT|O_EXCL|O_NOFOLLOW: a name taken is left alone and
   * met by the writer's rules); the directories are made first, here, on this
   * thread. Returns at once; a failure is left to the writer to meet.
   */
  createAhead(parallel: number): void {
    const entries = this.#layout.entries;
    const made = new Uint8Array(entries.length);
    this.#madeAhead = made;
    for (const entry of entries) {
      const parts = entry.path.split("/");
      for (let depth = 1; depth < parts.length; depth++) this.#directory(parts.slice(0, depth));
    }
    const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = this.#fs.constants;
    let next = 0;
    const createNext = (): void => {
      let index = next++;
      while (index < entries.length && this.#open.has(index)) index = next++; // the writer got there first
      if (this.#stopped || index >= entries.length) return;
      this.#creating++;
      const done = () => {
        createNext();
        // Each chain starts its next creation before it ends this one: none under way means all made, or stopped.
        if (--this.#creating === 0) for (const resolve of this.#idle.splice(0)) resolve();
      };
      this.#fs.open(this.#path.join(this.#root, ...entries[index]!.path.split("/")), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, (error, fd) => {
        if (error) return done();
        // Closed here, not through the pool: a second round trip would wait for another turn of this thread's loop.
        this.#fs.closeSync(fd);
        made[index] = 1;
        done();
      });
    };
    for (let i = 0; i < parallel; i++) createNext();
  }

  /** Calls `then` once no creation of createAhead() is under way: every file made, or close() stopped them, none leaving a descriptor open. */
  whenIdle(then: () => void): void {
    if (this.#creating === 0) then();
    else this.#idle.push(then);
  }

  /**
   * Closes the files that lie wholly before stream position `hashed`: the
   * whole-stream SHA1 has read them, and every piece there is written, so
   * nothing opens them again. Files ahead of it stay open until then, so the
   * SHA1 reads back pieces that came out of order without reopening their
   * files (that was 10,000 more opens in bench:folders).
   */
  release(hashed: number): void {
    const entries = this.#layout.entries;
    while (this.#released < entries.length && this.#layout.startOf(this.#released + 1) <= hashed) {
      const fd = this.#open.get(this.#released);
      if (fd !== undefined) {
        this.#open.delete(this.#released);
        this.#fs.closeSync(fd);
      }
      this.#released++;
    }
  }

  /** Makes the files no piece writes (empty ones), so the tree is whole once every piece is written. */
  createEmptyFiles(): void {
    this.#layout.entries.forEach((entry, index) => {
      if (entry.size === 0) this.#fd(index);
    });
  }

  close(): void {
    this.#stopped = true;
    for (const fd of this.#open.values()) this.#fs.closeSync(fd);
    this.#open.clear();
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
      this.#fs.closeSync(fd);
    }
    const entry = this.#layout.entries[index]!;
    const parts = entry.path.split("/");
    for (let depth = 1; depth < parts.length; depth++) this.#directory(parts.slice(0, depth));
    const fd = this.#openFile(this.#path.join(this.#root, ...parts), entry.size, this.#madeAhead?.[index] === 1);
    this.#open.set(index, fd);
    return fd;
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
      this.#fs.closeSync(fd);
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
