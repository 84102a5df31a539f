/**
 * The piece worker's program (see piece-store.ts): checks a piece's SHA1
 * unless the main thread did, writes it at its offset, and keeps the
 * whole-file SHA1 following the written prefix (a folder's: its hashing
 * thread, folder/stream-hash.ts, told of each piece written).
 *
 * It is typed code, but it runs as the source text of `pieceWorkerMain`
 * (pieceWorkerSource()), in a worker started with `eval`: that runs the same
 * from TypeScript (tsx), from the compiled dist/ and from a bundle, with no
 * worker file to locate. So the function must not use anything from the
 * module around it: it `require`s what it needs, and a folder's classes
 * (FolderLayout, TreeFiles) are put in front of it as source text too.
 */
import type { ManifestEntry } from "../../../core/api-types.js";
import { FileDescriptors } from "../folder/descriptors.js";
import { FolderLayout } from "../folder/layout.js";
import { TreeFiles } from "../folder/tree-files.js";
import { workerSource } from "../worker-source.js";
import type { WrittenPieces } from "../folder/stream-hash.js";

/** Bound by pieceWorkerSource() in the worker: the classes' own source text, since the worker cannot import. */
declare const WorkerFolderLayout: typeof FolderLayout;
declare const WorkerTreeFiles: typeof TreeFiles;
declare const WorkerFileDescriptors: typeof FileDescriptors;

/** Sent to the worker: once to open a download, then a piece at a time, then the digest request. */
export type ToPieceWorker =
  /** A spare's first task: fault in every page of piece memory for a later download (piece-store.ts, PieceWorkers). */
  | { touch: SharedArrayBuffer }
  | { open: PieceWorkerOpen }
  | { piece: number; slot: number; length: number; checked: boolean; written?: boolean }
  | { digest: true }
  /** Closes the file(s) before the worker is terminated (terminate() runs no exit handler, and descriptors belong to the process). */
  | { close: true };

export interface PieceWorkerOpen {
  path: string;
  size: number;
  pieceSize: number;
  pieceHashes: string[];
  /** Bitfield bytes of the pieces already verified in `path` (resume). */
  have: Uint8Array;
  /** The piece slots, shared with the main thread. */
  memory: SharedArrayBuffer;
  /** [0]: pieces submitted and not finished yet, kept by both threads. */
  waiting: Int32Array;
  /** Pieces read back for the whole-file SHA1 per turn of the worker's event loop (AGENT.PREFIX_CATCH_UP_PIECES). */
  catchUpPieces: number;
  /**
   * A folder: `path` is its part tree, and each piece is written into the
   * files it spans (folder/tree-files.ts), at most `maxOpenFiles` of them open;
   * `createState` is shared with the creator thread (folder/create-ahead.ts),
   * `hashing` with the hashing thread, which reads each piece marked written;
   * `descriptors` with both (folder/descriptors.ts), `handedWritten` the most
   * files written whole left open for the hashing thread.
   */
  folder?: {
    entries: ManifestEntry[];
    maxOpenFiles: number;
    createState?: Int32Array;
    hashing: WrittenPieces;
    descriptors?: Int32Array;
    handedWritten: number;
  };
}

export type PieceOutcome = { piece: number; ok: true } | { piece: number; ok: false } | { piece: number; error: string };

/** A folder's size and latest modification time as its files are when every piece is written (TreeFiles.fingerprint). */
export interface FolderFingerprint {
  size: number;
  mtimeMs: number;
}

/** `sha1` is null for a folder: its hashing thread (folder/stream-hash.ts) has the stream's SHA1. */
export type FromPieceWorker =
  | { sha1: string | null; fingerprint?: FolderFingerprint }
  | { digestError: string }
  | { outcome: PieceOutcome; slot: number }
  | { closed: true }
  | { touched: true };

export function pieceWorkerMain(): void {
  const { parentPort } = require("node:worker_threads") as typeof import("node:worker_threads");
  const { openSync, readSync, writeSync, closeSync } = require("node:fs") as typeof import("node:fs");
  const { createHash } = require("node:crypto") as typeof import("node:crypto");
  if (!parentPort) return;
  const port = parentPort;
  let job: PieceWorkerOpen;
  let fd = -1;
  let tree: TreeFiles | undefined;
  /** Where the stream's bytes go and come back from: one file, or a folder's files (each piece cut at their boundaries). */
  let writeAt: (data: Buffer, length: number, position: number) => void;
  let readAt: (buffer: Buffer, length: number, position: number) => number;
  /** Called once piece `piece` (its bytes in `data`) is in the file(s): a file's SHA1 follows the prefix here, a folder's hashing thread is told. */
  let pieceWritten: (piece: number, data: Buffer) => void;
  let written: Uint8Array;
  let whole: import("node:crypto").Hash;
  let next = 0;
  let scratch: Buffer | undefined;
  const send = (message: FromPieceWorker) => port.postMessage(message);
  const lengthOf = (piece: number) => Math.min(job.pieceSize, job.size - piece * job.pieceSize);

  /** Reads back and hashes up to `budget` written pieces from the end of the hashed prefix on. */
  const hashWrittenAhead = (budget: number) => {
    while (budget-- > 0 && next < written.length && written[next]) {
      scratch ??= Buffer.allocUnsafe(job.pieceSize);
      const length = lengthOf(next);
      let done = 0;
      while (done < length) {
        const read = readAt(scratch.subarray(done), length - done, next * job.pieceSize + done);
        if (read === 0) throw new Error(`the ${job.folder ? "folder's files end" : "file ends"} inside piece ${next}`);
        done += read;
      }
      whole.update(scratch.subarray(0, length));
      next++;
    }
  };
  // Catching up with pieces written ahead of the prefix (one that fills a gap may be followed by
  // hundreds, in a swarm's random order) goes a few pieces per turn, after the outcome was sent:
  // done in one go before answering, it held that piece's buffer and every piece queued behind it,
  // and the main thread, out of buffers, stopped reading every peer's socket meanwhile.
  let catchingUp = false;
  let catchUpError: Error | undefined;
  const catchUp = () => {
    try {
      hashWrittenAhead(job.catchUpPieces);
    } catch (error) {
      catchUpError = error as Error;
    }
    if (catchUpError === undefined && next < written.length && written[next]) setImmediate(catchUp);
    else catchingUp = false;
  };
  const scheduleCatchUp = () => {
    if (job.folder || catchingUp || catchUpError !== undefined || next >= written.length || !written[next]) return;
    catchingUp = true;
    setImmediate(catchUp);
  };

  port.on("message", (message: ToPieceWorker) => {
    if ("touch" in message) {
      // One write per page: the kernel maps them all now, while nothing waits (the memory is fresh and nobody else's yet).
      const bytes = new Uint8Array(message.touch);
      for (let i = 0; i < bytes.length; i += 4096) bytes[i] = 0;
      send({ touched: true });
      return;
    }
    if ("open" in message) {
      job = message.open;
      written = job.folder?.hashing.written ?? new Uint8Array(job.pieceHashes.length);
      if (job.folder) {
        const { entries, maxOpenFiles, createState, descriptors, handedWritten } = job.folder;
        const handoff = descriptors ? { descriptors: new WorkerFileDescriptors(descriptors), writtenLimit: handedWritten } : undefined;
        const files = new WorkerTreeFiles({ fs: require("node:fs"), path: require("node:path") }, job.path, new WorkerFolderLayout(entries), maxOpenFiles, createState, handoff);
        tree = files;
        writeAt = (data, length, position) => files.write(data, length, position);
        readAt = () => 0; // a folder's pieces are read back by its hashing thread, not here
        const { signal } = job.folder.hashing;
        pieceWritten = (piece) => {
          Atomics.store(written, piece, 1);
          Atomics.add(signal, 0, 1);
          Atomics.notify(signal, 0);
        };
        // Pieces an earlier run wrote are not written again: their files' bytes are counted as written.
        for (let i = 0; i < written.length; i++) if (job.have[i >> 3]! & (0x80 >> (i & 7))) files.markWritten(i * job.pieceSize, lengthOf(i));
      } else {
        const file = openSync(job.path, "r+");
        fd = file;
        writeAt = (data, length, position) => {
          for (let done = 0; done < length; ) done += writeSync(file, data, done, length - done, position + done);
        };
        readAt = (buffer, length, position) => readSync(file, buffer, 0, length, position);
        pieceWritten = (piece, data) => {
          written[piece] = 1;
          // The piece that extends the hashed prefix is hashed from memory; later ones are read back.
          if (piece === next) {
            whole.update(data);
            next++;
          }
        };
      }
      for (let i = 0; i < written.length; i++) if (job.have[i >> 3]! & (0x80 >> (i & 7))) written[i] = 1;
      whole = createHash("sha1");
      return;
    }
    if ("digest" in message) {
      try {
        if (catchUpError) throw catchUpError;
        if (!job.folder) hashWrittenAhead(Infinity);
        const count = written.reduce((sum, piece) => sum + piece, 0);
        if (count !== written.length) {
          send({ digestError: `only ${count} of ${written.length} pieces are written` });
          return;
        }
        // Every piece is written: a folder's tree lacks only its empty files, which no piece touches.
        tree?.createEmptyFiles();
        const fingerprint = tree?.fingerprint();
        send({ sha1: job.folder ? null : whole.digest("hex"), ...(fingerprint ? { fingerprint } : {}) });
      } catch (error) {
        send({ digestError: (error as Error).message });
      }
      return;
    }
    if ("close" in message) {
      closeFiles();
      send({ closed: true });
      return;
    }
    const { piece, slot, length, checked } = message;
    const data = Buffer.from(job.memory, slot * job.pieceSize, length);
    let outcome: PieceOutcome;
    try {
      if (written[piece]) {
        outcome = { piece, ok: true };
      } else if (message.written) {
        // Checked and written by the main thread (a download's first pieces): only followed by the whole-file SHA1.
        pieceWritten(piece, data);
        outcome = { piece, ok: true };
      } else if (!checked && createHash("sha1").update(data).digest("hex") !== job.pieceHashes[piece]) {
        outcome = { piece, ok: false };
      } else {
        writeAt(data, length, piece * job.pieceSize);
        pieceWritten(piece, data);
        outcome = { piece, ok: true };
      }
    } catch (error) {
      outcome = { piece, error: (error as Error).message };
    }
    Atomics.sub(job.waiting, 0, 1);
    send({ outcome, slot });
    scheduleCatchUp();
  });
  const closeFiles = () => {
    if (fd >= 0) closeSync(fd);
    fd = -1;
    tree?.close();
  };
  process.on("exit", closeFiles);
}

/** The worker's source text (worker-source.ts). */
export function pieceWorkerSource(): string {
  return workerSource(pieceWorkerMain, { WorkerFolderLayout: FolderLayout, WorkerTreeFiles: TreeFiles, WorkerFileDescriptors: FileDescriptors });
}
