import { Worker } from "node:worker_threads";
import type { ManifestEntry } from "../../../core/api-types.js";
import { FileDescriptors } from "./descriptors.js";
import { FolderLayout } from "./layout.js";
import { workerSource } from "../worker-source.js";

/** Shared with the piece worker: which pieces are written, and a counter it bumps (and notifies) after each one. */
export interface WrittenPieces {
  /** 1 for a piece written into its files (or verified by an earlier run); set with Atomics.store. */
  written: Uint8Array;
  /** [0]: bumped and notified after each piece written; [1]: set to stop the hasher. */
  signal: Int32Array;
}

/**
 * The SHA1 of a folder download's whole stream, computed in a thread of its
 * own that reads the files back in stream order as the written prefix grows.
 * On the piece worker, this read back nearly every piece (with several
 * seeders, each asked for other runs, almost every piece arrives ahead of the
 * hashed prefix) from thousands of small files, and the worker's time was
 * the folder's download time; here the reading and hashing run beside the
 * writing, on the machine's other core. A file the writer finished is read
 * through the descriptor it handed on (folder/descriptors.ts), then closed;
 * one it did not hand on (past the bound, or written by an earlier run) is
 * opened once, by the rules for a file found in the part tree (O_NOFOLLOW, a
 * regular file with one link): a file planted in the tree is refused, not
 * read.
 *
 * The piece worker marks each written piece in `pieces` (shared memory) and
 * wakes this thread; pieces verified by an earlier run are marked before it
 * starts.
 */
export class StreamHash {
  readonly pieces: WrittenPieces;
  readonly #worker: Worker;
  readonly #result: Promise<string>;
  readonly #exited: Promise<void>;

  constructor(root: string, entries: readonly ManifestEntry[], pieceSize: number, have: (piece: number) => boolean, descriptors?: FileDescriptors) {
    const count = Math.ceil(new FolderLayout(entries).size / pieceSize);
    this.pieces = { written: new Uint8Array(new SharedArrayBuffer(count)), signal: new Int32Array(new SharedArrayBuffer(8)) };
    for (let piece = 0; piece < count; piece++) if (have(piece)) this.pieces.written[piece] = 1;
    // It closes descriptors the writer opened (folder/descriptors.ts): in Node's tracking of a thread's descriptors,
    // each of those closes would be a warning. It closes its own in every case (the `finally` below).
    this.#worker = new Worker(streamHashSource(), {
      eval: true,
      trackUnmanagedFds: false,
      workerData: { root, entries: [...entries], pieceSize, ...this.pieces, descriptors: descriptors?.table },
    });
    this.#exited = new Promise((resolve) => this.#worker.once("exit", () => resolve()));
    this.#result = new Promise<string>((resolve, reject) => {
      this.#worker.on("message", (message: { sha1: string } | { error: string }) => {
        if ("sha1" in message) resolve(message.sha1);
        else reject(new Error(message.error));
      });
      this.#worker.once("error", reject);
      this.#worker.once("exit", () => reject(new Error("the folder's hashing thread stopped before the stream's end")));
    });
    this.#result.catch(() => undefined); // read by digest(); a download stopped early never asks
  }

  /** The stream's SHA1, once every piece is written and read back. */
  digest(): Promise<string> {
    return this.#result;
  }

  /** Stops the thread (it closes its file first) and waits for it to end. */
  async close(): Promise<void> {
    Atomics.store(this.pieces.signal, 1, 1);
    Atomics.notify(this.pieces.signal, 0);
    await this.#exited;
  }
}

/**
 * The hashing thread's program, run as source text (as the piece worker's
 * is): FolderLayout is put in front of it; nothing else from this module.
 */
function streamHashMain(): void {
  const { workerData, parentPort } = require("node:worker_threads") as typeof import("node:worker_threads");
  const fs = require("node:fs") as typeof import("node:fs");
  const path = require("node:path") as typeof import("node:path");
  const { createHash } = require("node:crypto") as typeof import("node:crypto");
  const { root, entries, pieceSize, written, signal, descriptors: table } = workerData as {
    root: string; entries: ManifestEntry[]; pieceSize: number; written: Uint8Array; signal: Int32Array; descriptors?: Int32Array;
  };
  const descriptors = table ? new WorkerFileDescriptors(table) : undefined;
  const layout = new WorkerFolderLayout(entries);
  const whole = createHash("sha1");
  const buffer = Buffer.allocUnsafe(pieceSize);
  /** The file being read: through the writer's descriptor (`handed`), or one opened here. */
  let open: { index: number; fd: number; handed: boolean } | undefined;
  /** Done with the file being read, every byte of it read: its descriptor and the one the writer handed on for it are closed. */
  const readWhole = () => {
    if (!open) return;
    const { index, fd } = open;
    open = undefined;
    const handed = descriptors?.releaseWritten(index) ?? -1;
    if (handed !== fd) fs.closeSync(fd);
    if (handed >= 0) fs.closeSync(handed);
  };
  /** The descriptor to read file `index` through; `ends` when this read reaches the file's end (so the writer has finished it). */
  const fdOf = (index: number, ends: boolean): number => {
    if (open?.index === index) return open.fd;
    readWhole();
    const handed = ends ? (descriptors?.written(index) ?? -1) : -1;
    if (handed >= 0) {
      open = { index, fd: handed, handed: true };
      return handed;
    }
    const full = path.join(root, ...entries[index]!.path.split("/"));
    const foreign = () => new Error(`${full} is not a file this download made (a symlink or a link put there); not reading through it`);
    let fd: number;
    try {
      fd = fs.openSync(full, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch (error) {
      throw (error as NodeJS.ErrnoException).code === "ELOOP" ? foreign() : error;
    }
    const info = fs.fstatSync(fd);
    if (!info.isFile() || info.nlink !== 1) {
      fs.closeSync(fd);
      throw foreign();
    }
    open = { index, fd, handed: false };
    return fd;
  };
  try {
    for (let next = 0; next < written.length; ) {
      if (Atomics.load(signal, 1) !== 0) return;
      const seen = Atomics.load(signal, 0);
      if (Atomics.load(written, next) === 0) {
        Atomics.wait(signal, 0, seen);
        continue;
      }
      const start = next * pieceSize;
      const length = Math.min(pieceSize, layout.size - start);
      let done = 0;
      for (const run of layout.segments(start, length)) {
        const fd = fdOf(run.index, run.offset + run.length === entries[run.index]!.size);
        for (let read = 0; read < run.length; ) {
          const got = fs.readSync(fd, buffer, done + read, run.length - read, run.offset + read);
          if (got === 0) throw new Error(`the folder's files end inside piece ${next}`);
          read += got;
        }
        done += run.length;
      }
      whole.update(buffer.subarray(0, length));
      next++;
    }
    readWhole();
    parentPort!.postMessage({ sha1: whole.digest("hex") });
  } catch (error) {
    parentPort!.postMessage({ error: (error as Error).message });
  } finally {
    // Stopped early: a descriptor the writer handed on stays in the table, for the piece store to close.
    if (open && !open.handed) fs.closeSync(open.fd);
  }
}

declare const WorkerFolderLayout: typeof FolderLayout;
declare const WorkerFileDescriptors: typeof FileDescriptors;

function streamHashSource(): string {
  return workerSource(streamHashMain, { WorkerFolderLayout: FolderLayout, WorkerFileDescriptors: FileDescriptors });
}
