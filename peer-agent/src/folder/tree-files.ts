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

  /** Makes the files no piece writes (empty ones), so the tree is whole once every piece is written. */
  createEmptyFiles(): void {
    this.#layout.entries.forEach((entry, index) => {
      if (entry.size === 0) this.#fd(index);
    });
  }

  close(): void {
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
    const fd = this.#openFile(this.#path.join(this.#root, ...parts), entry.size);
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

  /** Creates the file new, or reopens the one this download made before; never follows a symlink. */
  #openFile(full: string, size: number): number {
    const { O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW } = this.#fs.constants;
    try {
      return this.#fs.openSync(full, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const foreign = () => new Error(`${full} is not a file this download made (a symlink or a link put there); not writing through it`);
    let fd: number;
    try {
      fd = this.#fs.openSync(full, O_RDWR | O_NOFOLLOW);
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
