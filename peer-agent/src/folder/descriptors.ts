/**
 * The open descriptors of a folder download's files, in one table of shared
 * memory that its three threads see: the creator (folder/create-ahead.ts)
 * makes a file and leaves its descriptor here, the writer (the piece worker,
 * folder/tree-files.ts) writes through it, and once the file's last byte is
 * written the hashing thread (folder/stream-hash.ts) reads it back through
 * the same descriptor and closes it. Each file is looked up by its path once,
 * when it is created, instead of three times (create, reopen to write, reopen
 * to read back, each with an fstat to check what it found): for the 10,000
 * files of bench:folders, 11,105 `openat` calls instead of 30,243, on a
 * machine where the folder's time is the kernel's time per file
 * (docs/performance.md, "Folders").
 *
 * Who may close a descriptor follows from where its file is:
 * - made, not claimed yet: nobody; the writer claims it (`claimMade`);
 * - being written: the writer (it takes it out of the table, `release`,
 *   before closing it, to make room among the ones it keeps);
 * - written whole and handed on (`handOn`): the hashing thread, which takes
 *   it out (`releaseWritten`) once it has read the file;
 * - whatever is left when the threads have ended (a download stopped, a
 *   thread that failed): the piece store, on the main thread (`closeAll`).
 * A descriptor is taken out of the table before it is closed, never after:
 * a thread stopped between the two leaks it rather than leaving a number
 * that the process may reuse for another file, to be closed by mistake.
 * For the same reason the threads that open descriptors others close are
 * started with `trackUnmanagedFds: false` (Node would otherwise close, when
 * such a thread exits, numbers another thread already closed).
 *
 * Descriptors left here are bounded per stage (`limit`, AGENT settings): the
 * creator waits for the writer to claim one before it makes another
 * (`roomForMade`), and past its bound the writer closes a file it finished,
 * which the hashing thread then opens by its path, under its rules for a file
 * found in the part tree.
 *
 * It uses nothing from the module around it: the threads run its source text.
 */
export class FileDescriptors {
  /** Per file its descriptor or -1, then per stage the descriptors handed on and not taken yet. */
  readonly table: Int32Array;
  readonly #files: number;

  constructor(table: Int32Array) {
    this.table = table;
    this.#files = table.length - 2;
  }

  static forFiles(count: number): FileDescriptors {
    const table = new Int32Array(new SharedArrayBuffer(4 * (count + 2)));
    table.fill(-1, 0, count);
    return new FileDescriptors(table);
  }

  /**
   * The creator leaves the descriptor of file `index`, just made, for the writer; false (then it closes it) when
   * `limit` are left already, or when the writer holds one for the file already (it found the file made while the
   * creator was making it, and opened it by its path).
   */
  offerMade(index: number, fd: number, limit: number): boolean {
    if (!this.#reserve(0, limit)) return false;
    if (Atomics.compareExchange(this.table, index, -1, fd) === -1) return true;
    Atomics.sub(this.table, this.#files, 1);
    return false;
  }

  /** The writer takes the descriptor the creator left for file `index`, or -1 when it left none. It stays in the table while the file is written. */
  claimMade(index: number): number {
    const fd = Atomics.load(this.table, index);
    if (fd >= 0) this.#madeTaken();
    return fd;
  }

  /**
   * Whether fewer than `limit` of the descriptors the creator left are unclaimed; if not, first waits at most
   * `timeoutMs` for the writer to claim one. The creator keeps pace with the writer this way rather than close
   * files the writer would open again by their paths. (The writer never waits for the creator: a file it reaches
   * first it makes itself.)
   */
  roomForMade(limit: number, timeoutMs: number): boolean {
    const unclaimed = Atomics.load(this.table, this.#files);
    if (unclaimed < limit) return true;
    Atomics.wait(this.table, this.#files, unclaimed, timeoutMs);
    return Atomics.load(this.table, this.#files) < limit;
  }

  /**
   * The writer records a descriptor it opened by the path of file `index`, and returns the one to write through:
   * the creator's, when its offer for the file came first (then the writer closes its own).
   */
  hold(index: number, fd: number): number {
    const there = Atomics.compareExchange(this.table, index, -1, fd);
    if (there === -1) return fd;
    this.#madeTaken();
    return there;
  }

  /** Takes the descriptor of file `index` out of the table (the caller closes it); -1 when there is none. */
  release(index: number): number {
    return Atomics.exchange(this.table, index, -1);
  }

  /** The writer hands the descriptor of file `index`, written whole, on to the hashing thread; false when `limit` wait already (then it releases and closes it). */
  handOn(limit: number): boolean {
    return this.#reserve(1, limit);
  }

  /** The descriptor of file `index`, written whole and handed on, or -1; it stays in the table until `releaseWritten`. */
  written(index: number): number {
    return Atomics.load(this.table, index);
  }

  /** The hashing thread takes out the descriptor of file `index`, read whole (the caller closes it); -1 when there is none. */
  releaseWritten(index: number): number {
    const fd = Atomics.exchange(this.table, index, -1);
    if (fd >= 0) Atomics.sub(this.table, this.#files + 1, 1);
    return fd;
  }

  /** Closes every descriptor still in the table: only once no thread uses it any more. */
  closeAll(close: (fd: number) => void): void {
    for (let index = 0; index < this.#files; index++) {
      const fd = Atomics.exchange(this.table, index, -1);
      if (fd >= 0) close(fd);
    }
  }

  #madeTaken(): void {
    Atomics.sub(this.table, this.#files, 1);
    Atomics.notify(this.table, this.#files, 1);
  }

  #reserve(stage: number, limit: number): boolean {
    const counter = this.#files + stage;
    if (Atomics.add(this.table, counter, 1) < limit) return true;
    Atomics.sub(this.table, counter, 1);
    return false;
  }
}
