import { closeSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { PIECE_SIZE, type ManifestEntry } from "../../../core/api-types.js";
import { AGENT } from "../config.js";
import { FolderCreator } from "../folder/create-ahead.js";
import { handedFileBounds } from "../folder/descriptor-budget.js";
import { FileDescriptors } from "../folder/descriptors.js";
import { StreamHash } from "../folder/stream-hash.js";
import type { Bitfield } from "../../../core/bitfield.js";
import { pieceWorkerSource, type FolderFingerprint, type FromPieceWorker, type PieceOutcome, type ToPieceWorker } from "./piece-worker.js";

export type { PieceOutcome };

/**
 * Piece workers started ahead of need, and piece memory whose pages are
 * already in place. Starting a worker thread costs tens of milliseconds of
 * both threads (a new V8 isolate), which a download would otherwise spend
 * between its first request and its first written piece: an agent keeps one
 * started, and starts the next when a download ends. Likewise the first
 * write into each page of fresh memory is a page fault: 35-42 ms for the
 * 12 MiB of piece slots on this project's VMs (docs/performance.md, "Piece
 * memory in place"), paid in the download's first pieces on the thread that
 * reads the sockets. So the spare's thread faults in a slots' worth of memory
 * while it waits, and a download gives its slots back when it ends.
 */
export class PieceWorkers {
  #spare: Worker | undefined;
  /** Piece memory with its pages in place, for the next download; at most one is kept. */
  #memory: SharedArrayBuffer | undefined;
  #closed = false;

  /**
   * Starts the spare now (an agent calls this at start, while nothing waits for it). Resolves once its thread
   * runs and the idle piece memory is in place, or at once when there is nothing to start.
   */
  warm(): Promise<void> {
    if (this.#closed || this.#spare) return Promise.resolve();
    const spare = startPieceWorker();
    this.#spare = spare;
    // A spare that dies (it should not) is simply replaced at the next take.
    spare.once("exit", () => {
      if (this.#spare === spare) this.#spare = undefined;
    });
    // Handed out only once the spare has touched every page: nothing else writes into it before.
    const memory = this.#memory ? undefined : new SharedArrayBuffer(PIECE_MEMORY_BYTES);
    if (memory) spare.postMessage({ touch: memory } satisfies ToPieceWorker);
    // Held until its thread runs (and has touched the memory), so that waiting for it keeps the process alive; an idle spare does not.
    return new Promise((resolve) => {
      const started = () => {
        if (this.#spare === spare) spare.unref();
        resolve();
      };
      const touched = (message: FromPieceWorker) => {
        if (!("touched" in message)) return;
        spare.off("message", touched);
        if (!this.#closed) this.#memory ??= memory;
        started();
      };
      if (memory) spare.on("message", touched);
      else spare.once("online", started);
      spare.once("exit", started);
    });
  }

  /** A started worker for a download, its own from now on. */
  take(): Worker {
    const worker = this.#spare ?? startPieceWorker();
    this.#spare = undefined;
    worker.removeAllListeners("exit");
    worker.removeAllListeners("message");
    worker.ref();
    return worker;
  }

  /** Piece memory of at least `bytes` for a download, its own until it gives it back: the memory in place when there is one. */
  takeMemory(bytes: number): SharedArrayBuffer {
    const memory = this.#memory;
    if (memory && memory.byteLength >= bytes) {
      this.#memory = undefined;
      return memory;
    }
    return new SharedArrayBuffer(bytes);
  }

  /** A download's piece memory, once nothing reads or writes it any more (its worker has stopped): kept for the next one. */
  giveBack(memory: SharedArrayBuffer): void {
    if (!this.#closed && memory.byteLength === PIECE_MEMORY_BYTES) this.#memory ??= memory;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#memory = undefined;
    const spare = this.#spare;
    this.#spare = undefined;
    await spare?.terminate();
  }
}

/** The piece slots of a download: AGENT.MAX_PIECE_BUFFERS pieces. */
const PIECE_MEMORY_BYTES = AGENT.MAX_PIECE_BUFFERS * PIECE_SIZE;

function startPieceWorker(): Worker {
  // A folder's descriptors pass between threads (folder/descriptors.ts): Node must not close, when this thread ends,
  // numbers another thread has closed already and the process may have reused. The worker closes its own files
  // before it is stopped (close()), and the piece store what a folder's table still holds.
  return new Worker(pieceWorkerSource(), { eval: true, trackUnmanagedFds: false });
}

/**
 * Checks, writes and hashes pieces in a worker thread, off the event loop
 * that reads the sockets:
 * - each piece is checked against its SHA1, unless the caller has already
 *   done so, and only if it matches written at its offset in the .part file
 *   (so the file never holds unverified bytes where a verified piece belongs);
 * - the whole-file SHA1 follows the written prefix: a piece that extends the
 *   prefix is hashed from memory, pieces written ahead of it (or verified by
 *   an earlier run) are read back when the prefix reaches them. The final
 *   check is then a real SHA1 of every byte in the file, nearly free at the end.
 *   A folder's stream is hashed by a thread of its own (folder/stream-hash.ts),
 *   and its files are made ahead by another (folder/create-ahead.ts).
 *
 * Piece buffers are slots of one SharedArrayBuffer that both threads see:
 * a message names a slot, no bytes are copied or transferred. (Transferring
 * a 512 KiB ArrayBuffer per piece each way made V8 count 2 GiB of "new"
 * external memory per GiB downloaded and run a full GC every few pieces.)
 * A slot belongs to the caller until it is submitted, and comes back with
 * the piece's outcome.
 */
export class PieceStore {
  readonly #worker: Worker;
  /** The slots' memory, given back to `#workers` once the worker has stopped. */
  readonly #memory: SharedArrayBuffer;
  readonly #workers: PieceWorkers | undefined;
  readonly #slots: Buffer[];
  readonly #slotOf = new Map<Buffer, number>();
  /** [0]: pieces submitted that the worker has not finished yet, kept by both threads. */
  readonly #waiting = new Int32Array(new SharedArrayBuffer(4));
  readonly #onOutcome: (outcome: PieceOutcome, buffer: Buffer) => void;
  #digest: { resolve: (sha1: string) => void; reject: (error: Error) => void } | undefined;
  #failure: Error | undefined;
  #closed: (() => void) | undefined;
  #fingerprint: FolderFingerprint | undefined;
  /** A folder's files are made ahead of their pieces by this thread (folder/create-ahead.ts). */
  readonly #creator: FolderCreator | undefined;
  /** A folder's whole-stream SHA1, read back from its files in a thread of its own (folder/stream-hash.ts). */
  readonly #hash: StreamHash | undefined;
  /** A folder's files' descriptors, passed between those threads and the piece worker; what is left is closed here. */
  readonly #descriptors: FileDescriptors | undefined;

  constructor(
    options: {
      path: string;
      size: number;
      pieceSize: number;
      pieceHashes: string[];
      have: Bitfield;
      slots: number;
      workers?: PieceWorkers;
      /** A folder's files in stream order: `path` is then its part tree, and pieces are written into the files (folder/tree-files.ts). */
      folder?: readonly ManifestEntry[];
    },
    onOutcome: (outcome: PieceOutcome, buffer: Buffer) => void,
    onFailure: (error: Error) => void,
  ) {
    this.#onOutcome = onOutcome;
    const memory = (this.#memory = options.workers?.takeMemory(options.slots * options.pieceSize) ?? new SharedArrayBuffer(options.slots * options.pieceSize));
    this.#workers = options.workers;
    this.#slots = Array.from({ length: options.slots }, (_, slot) => Buffer.from(memory, slot * options.pieceSize, options.pieceSize));
    this.#slots.forEach((buffer, slot) => this.#slotOf.set(buffer, slot));
    this.#worker = options.workers?.take() ?? startPieceWorker();
    const descriptors = (this.#descriptors = options.folder ? FileDescriptors.forFiles(options.folder.length) : undefined);
    const handed = handedFileBounds();
    this.#creator = options.folder ? new FolderCreator(options.path, options.folder, descriptors, handed.made) : undefined;
    this.#hash = options.folder ? new StreamHash(options.path, options.folder, options.pieceSize, (piece) => options.have.has(piece), descriptors) : undefined;
    this.#post({
      open: {
        path: options.path,
        size: options.size,
        pieceSize: options.pieceSize,
        pieceHashes: options.pieceHashes,
        have: options.have.bytes,
        memory,
        waiting: this.#waiting,
        catchUpPieces: AGENT.PREFIX_CATCH_UP_PIECES,
        ...(options.folder
          ? {
              folder: {
                entries: [...options.folder],
                maxOpenFiles: AGENT.FOLDER_OPEN_FILES,
                createState: this.#creator!.state,
                hashing: this.#hash!.pieces,
                descriptors: descriptors!.table,
                handedWritten: handed.written,
              },
            }
          : {}),
      },
    });
    this.#worker.on("message", (message: FromPieceWorker) => {
      if ("closed" in message) this.#closed?.();
      else if ("sha1" in message) {
        this.#fingerprint = message.fingerprint;
        if (message.sha1 !== null) this.#digest?.resolve(message.sha1);
        else if (this.#hash) this.#hash.digest().then((sha1) => this.#digest?.resolve(sha1), (error: Error) => this.#digest?.reject(error));
        else this.#digest?.reject(new Error("the piece worker left the SHA1 to a hashing thread that is not there"));
      }
      else if ("digestError" in message) this.#digest?.reject(new Error(message.digestError));
      else if ("outcome" in message) this.#onOutcome(message.outcome, this.#slots[message.slot]!);
      // { touched }: a spare taken before it had touched its memory; that memory is nobody's now.
    });
    const fail = (error: Error) => {
      if (this.#failure) return;
      this.#failure = error;
      this.#digest?.reject(error);
      onFailure(error);
    };
    this.#worker.on("error", fail);
    this.#worker.on("exit", (code) => fail(new Error(`the piece worker stopped (${code})`)));
  }

  /**
   * Pieces the worker has not finished yet, as of now: its outcome messages
   * reach this thread only when the event loop gets to them, which is late
   * when the event loop is busy.
   */
  get waiting(): number {
    return Atomics.load(this.#waiting, 0);
  }

  /** The piece buffers (each `pieceSize` long) that submit() accepts. */
  get buffers(): readonly Buffer[] {
    return this.#slots;
  }

  /**
   * Hands over a received piece held in one of `buffers` (do not touch it
   * until it comes back); `checked` when the caller has verified its SHA1,
   * `written` when the caller has also written it to the file (the worker then
   * only follows it with the whole-file SHA1).
   */
  submit(piece: number, buffer: Buffer, length: number, checked: boolean, written = false): void {
    if (this.#failure) throw this.#failure;
    const slot = this.#slotOf.get(buffer);
    if (slot === undefined) throw new Error("submit() takes one of the store's own buffers");
    Atomics.add(this.#waiting, 0, 1);
    this.#post({ piece, slot, length, checked, ...(written ? { written: true } : {}) });
  }

  /** Stream bytes [start, start + length) were asked of a peer: a folder's files there are made first. */
  requested(start: number, length: number): void {
    this.#creator?.requested(start, length);
  }

  /** The SHA1 of the whole file; call once every piece's outcome has come back ok. */
  digest(): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#digest = { resolve, reject };
      this.#post({ digest: true });
    });
  }

  /** A folder's size and latest modification time, from the worker as digest() answered; undefined before, and for a file. */
  get fingerprint(): FolderFingerprint | undefined {
    return this.#fingerprint;
  }

  /** Has the worker close its files (terminate() alone would leave their descriptors open in this process), then stops it. */
  async close(): Promise<void> {
    const running = this.#failure === undefined;
    this.#failure ??= new Error("the piece store is closed");
    if (running) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#closed = resolve;
        this.#worker.once("exit", () => resolve());
        timer = setTimeout(resolve, AGENT.PIECE_WORKER_CLOSE_MS);
        this.#post({ close: true });
      });
      clearTimeout(timer);
    }
    await this.#worker.terminate();
    // The download has settled every response before closing its store (engine.ts, run()), and the worker has ended.
    this.#workers?.giveBack(this.#memory);
    await this.#creator?.close();
    await this.#hash?.close();
    // Every thread that used the table has ended: what it still holds is nobody's but this store's.
    this.#descriptors?.closeAll(closeSync);
  }

  #post(message: ToPieceWorker): void {
    this.#worker.postMessage(message);
  }
}
