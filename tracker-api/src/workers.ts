import cluster, { type Worker } from "node:cluster";
import { createInterface } from "node:readline";
import type { Logger } from "pino";
import { TRACKER } from "./config.js";

/**
 * tracker --workers N: this (primary) process serves nothing itself; it
 * starts N API processes running the same command, which share the tracker's
 * port (node:cluster hands each connection to one of them) and its
 * PostgreSQL database. A process that dies is started again; `quit` on stdin,
 * SIGINT or SIGTERM stop them all (each finishes its requests in flight).
 */
export function superviseWorkers(count: number, logger: Logger): void {
  let stopping = false;
  const start = (): Worker => cluster.fork();
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        logger.info("stopped");
        process.exit(0);
      }
      return;
    }
    logger.warn({ pid: worker.process.pid, code, signal }, "tracker API process ended; starting another");
    setTimeout(start, TRACKER.WORKER_RESTART_DELAY_MS);
  });
  for (let i = 0; i < count; i++) start();
  logger.info({ workers: count }, "tracker starting its API processes; type quit to stop");

  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, "stopping the API processes");
    for (const worker of Object.values(cluster.workers ?? {})) worker?.disconnect();
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  createInterface({ input: process.stdin }).on("line", (line) => {
    if (line.trim().toLowerCase() === "quit") stop("quit");
    else if (line.trim() !== "") process.stdout.write(`unknown command "${line.trim()}"; type quit to stop the tracker\n`);
  });
}
