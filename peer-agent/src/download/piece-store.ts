import { Worker } from "node:worker_threads";
import type { Bitfield } from "../../../core/bitfield.js";

export type PieceOutcome = { piece: number; ok: true } | { piece: number; ok: false } | { piece: number; error: string };

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
  readonly #slots: Buffer[];
  readonly #slotOf = new Map<Buffer, number>();
  /** [0]: pieces submitted that the worker has not finished yet, kept by both threads. */
  readonly #waiting = new Int32Array(new SharedArrayBuffer(4));
  readonly #onOutcome: (outcome: PieceOutcome, buffer: Buffer) => void;
  #digest: { resolve: (sha1: string) => void; reject: (error: Error) => void } | undefined;
  #failure: Error | undefined;

  constructor(
    options: { path: string; size: number; pieceSize: number; pieceHashes: string[]; have: Bitfield; slots: number },
    onOutcome: (outcome: PieceOutcome, buffer: Buffer) => void,
    onFailure: (error: Error) => void,
  ) {
    this.#onOutcome = onOutcome;
    // Pages are touched only when a slot is first filled: memory follows use.
    const memory = new SharedArrayBuffer(options.slots * options.pieceSize);
    this.#slots = Array.from({ length: options.slots }, (_, slot) => Buffer.from(memory, slot * options.pieceSize, options.pieceSize));
    this.#slots.forEach((buffer, slot) => this.#slotOf.set(buffer, slot));
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        path: options.path,
        size: options.size,
        pieceSize: options.pieceSize,
        pieceHashes: options.pieceHashes,
        have: options.have.bytes,
        memory,
        waiting: this.#waiting,
      },
    });
    this.#worker.on("message", (message: WorkerMessage) => {
      if ("sha1" in message) this.#digest?.resolve(message.sha1);
      else if ("digestError" in message) this.#digest?.reject(new Error(message.digestError));
      else this.#onOutcome(message.outcome, this.#slots[message.slot]!);
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
   * until it comes back); `checked` when the caller has verified its SHA1.
   */
  submit(piece: number, buffer: Buffer, length: number, checked: boolean): void {
    if (this.#failure) throw this.#failure;
    const slot = this.#slotOf.get(buffer);
    if (slot === undefined) throw new Error("submit() takes one of the store's own buffers");
    Atomics.add(this.#waiting, 0, 1);
    this.#worker.postMessage({ piece, slot, length, checked });
  }

  /** The SHA1 of the whole file; call once every piece's outcome has come back ok. */
  digest(): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#digest = { resolve, reject };
      this.#worker.postMessage({ digest: true });
    });
  }

  async close(): Promise<void> {
    this.#failure ??= new Error("the piece store is closed");
    await this.#worker.terminate();
  }
}

type WorkerMessage =
  | { sha1: string }
  | { digestError: string }
  | { outcome: PieceOutcome; slot: number };

/**
 * The worker's program, as source text: a plain CommonJS script, so it runs
 * the same from TypeScript (tsx), the compiled dist/ and a bundle, with no
 * module to resolve.
 */
const WORKER_SOURCE = `
const { workerData, parentPort } = require("node:worker_threads");
const { openSync, readSync, writeSync, closeSync } = require("node:fs");
const { createHash } = require("node:crypto");
const { path, size, pieceSize, pieceHashes, memory } = workerData;
const pieceCount = pieceHashes.length;
const written = new Uint8Array(pieceCount);
for (let i = 0; i < pieceCount; i++) if (workerData.have[i >> 3] & (0x80 >> (i & 7))) written[i] = 1;
const whole = createHash("sha1");
let next = 0;
let scratch;
const fd = openSync(path, "r+");
const lengthOf = (piece) => Math.min(pieceSize, size - piece * pieceSize);

function extendPrefix(piece, data) {
  if (piece === next) {
    whole.update(data);
    next++;
  }
  while (next < pieceCount && written[next]) {
    scratch ??= Buffer.allocUnsafe(pieceSize);
    const length = lengthOf(next);
    let done = 0;
    while (done < length) {
      const read = readSync(fd, scratch, done, length - done, next * pieceSize + done);
      if (read === 0) throw new Error("the file ends inside piece " + next);
      done += read;
    }
    whole.update(scratch.subarray(0, length));
    next++;
  }
}

parentPort.on("message", (message) => {
  if (message.digest) {
    try {
      extendPrefix(-1);
      if (next !== pieceCount) parentPort.postMessage({ digestError: "only " + next + " of " + pieceCount + " pieces are written" });
      else parentPort.postMessage({ sha1: whole.digest("hex") });
    } catch (error) {
      parentPort.postMessage({ digestError: error.message });
    }
    return;
  }
  const { piece, slot, length, checked } = message;
  const data = Buffer.from(memory, slot * pieceSize, length);
  let outcome;
  try {
    if (written[piece]) {
      outcome = { piece, ok: true };
    } else if (!checked && createHash("sha1").update(data).digest("hex") !== pieceHashes[piece]) {
      outcome = { piece, ok: false };
    } else {
      let done = 0;
      while (done < length) done += writeSync(fd, data, done, length - done, piece * pieceSize + done);
      written[piece] = 1;
      outcome = { piece, ok: true };
      extendPrefix(piece, data);
    }
  } catch (error) {
    outcome = { piece, error: error.message };
  }
  Atomics.sub(workerData.waiting, 0, 1);
  parentPort.postMessage({ outcome, slot });
});
process.on("exit", () => closeSync(fd));
`;
