import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { TRACKER } from "../config.js";


/** What the checkpointer worker is started with. */
interface CheckpointWork {
  /** better-sqlite3's entry point, resolved by the tracker (the worker has no module around it). */
  driver: string;
  path: string;
  everyMs: number;
  passes: number;
}

/**
 * The checkpointer, run in a worker thread on its own connection: PASSIVE
 * checkpoints never block the tracker's connection (it keeps appending to the
 * WAL meanwhile), and their fsyncs block only this thread. A pass that could
 * not copy every frame (commits arrived during it) is followed at once by a
 * shorter one, so the WAL is fully copied in some gap between commits and the
 * next commit starts it over from the beginning.
 *
 * Typed code that runs as its own source text in a worker started with `eval`
 * (as the agent's piece worker does): the same from tsx, from dist/ and from a
 * bundle, with no worker file to locate. So it uses nothing from this module
 * and `require`s what it needs.
 */
function checkpointerMain(): void {
  const { parentPort, workerData } = require("node:worker_threads") as typeof import("node:worker_threads");
  const work = workerData as CheckpointWork;
  const Database = require(work.driver) as typeof import("better-sqlite3");
  const db = new Database(work.path, { timeout: 0 });
  let timer: NodeJS.Timeout;
  const round = () => {
    try {
      for (let pass = 0; pass < work.passes; pass++) {
        const [state] = db.pragma("wal_checkpoint(PASSIVE)") as { busy: number; log: number; checkpointed: number }[];
        if (!state || state.busy !== 0 || state.checkpointed >= state.log) break;
      }
    } catch {
      // Busy or closing: the next round tries again.
    }
    timer = setTimeout(round, work.everyMs);
  };
  timer = setTimeout(round, work.everyMs);
  parentPort!.once("message", () => {
    clearTimeout(timer);
    db.close();
    parentPort!.postMessage("stopped");
  });
}

/** The worker's source: `__name`/`__require` stand in for the helpers esbuild may call from transpiled code. */
const checkpointerSource = (): string => `const __name = (target) => target; const __require = require; (${checkpointerMain.toString()})();`;

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
  const workerData: CheckpointWork = {
    driver: createRequire(import.meta.url).resolve("better-sqlite3"), path, everyMs: TRACKER.CHECKPOINT_EVERY_MS, passes: TRACKER.CHECKPOINT_PASSES_PER_ROUND,
  };
  const worker = new Worker(checkpointerSource(), { eval: true, execArgv: [], workerData });
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
