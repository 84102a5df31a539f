import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { TRACKER } from "../config.js";


/**
 * The checkpointer, run in a worker thread on its own connection: PASSIVE
 * checkpoints never block the tracker's connection (it keeps appending to the
 * WAL meanwhile), and their fsyncs block only this thread. A pass that could
 * not copy every frame (commits arrived during it) is followed at once by a
 * shorter one, so the WAL is fully copied in some gap between commits and the
 * next commit starts it over from the beginning.
 */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path, { timeout: 0 });
let timer;
const round = () => {
  try {
    for (let pass = 0; pass < workerData.passes; pass++) {
      const [state] = db.pragma("wal_checkpoint(PASSIVE)");
      if (state.busy !== 0 || state.checkpointed >= state.log) break;
    }
  } catch {
    // Busy or closing: the next round tries again.
  }
  timer = setTimeout(round, workerData.everyMs);
};
timer = setTimeout(round, workerData.everyMs);
parentPort.once("message", () => {
  clearTimeout(timer);
  db.close();
  parentPort.postMessage("stopped");
});
`;

export interface Checkpointer {
  /** Stops checkpointing and closes the worker's connection. */
  stop(): Promise<void>;
}

/**
 * Checkpoints the WAL of the SQLite database at `path` in a worker thread, so
 * that the tracker's own connection can turn automatic checkpoints (and their
 * fsyncs, several ms on a slow disk) off its request path. Does not keep the
 * process alive.
 */
export function checkpointInBackground(path: string): Checkpointer {
  const worker = new Worker(WORKER, {
    eval: true,
    execArgv: [],
    workerData: {
      driver: createRequire(import.meta.url).resolve("better-sqlite3"), path, everyMs: TRACKER.CHECKPOINT_EVERY_MS, passes: TRACKER.CHECKPOINT_PASSES_PER_ROUND,
    },
  });
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  // A worker that failed (e.g. could not open the file) leaves checkpoints to the connection's automatic ones.
  worker.on("error", () => {});
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      if (!stopped) {
        worker.once("message", () => void worker.terminate());
        worker.postMessage("stop");
        stopped = exited;
      }
      return stopped;
    },
  };
}
