import { mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import type { AddressInfo } from "node:net";
import { CommanderError } from "commander";
import { createLogger } from "../../core/logger.js";
import { AppError } from "../../core/errors.js";
import { readCaFile, readTrackerInfo, selectTracker } from "../../core/tracker-info.js";
import { createServer as createHttpsServer } from "node:https";
import { readFile } from "node:fs/promises";
import { parseTrackerArgs } from "./config.js";
import cluster from "node:cluster";
import { openTrackerDatabase } from "./db/tracker-database.js";
import { superviseWorkers } from "./workers.js";
import { loadGrantKey } from "./grant-key.js";
import { createApp } from "./http/app.js";
import { loadIncarnation } from "./replication/incarnation.js";
import { clusterSecretFor } from "./replication/signing.js";
import { createTracker } from "./tracker.js";

async function main(): Promise<void> {
  const config = parseTrackerArgs(process.argv.slice(2));
  const logger = createLogger(config.logLevel);
  const trackers = await readTrackerInfo(config.trackerInfoPath);
  const self = selectTracker(trackers, config.trackerNumber);
  const trackerId = `tracker-${self.number}`;
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  const secret = clusterSecretFor(self.host, config.clusterSecret);
  if (config.workers > 1 && cluster.isPrimary) {
    // Made before the workers start, so they all read the same key.
    await loadGrantKey(trackerId, config.dataDir);
    superviseWorkers(config.workers, logger);
    return;
  }
  const database = await openTrackerDatabase(config);
  const { db } = database;
  const { origin, fresh } = await loadIncarnation(db, trackerId);
  const tracker = createTracker({
    db,
    id: trackerId,
    grantKey: await loadGrantKey(trackerId, config.dataDir),
    ...(database.siblings ? { siblings: database.siblings } : {}),
    quotas: config.quotas,
    replication: {
      origin,
      fresh,
      peers: trackers.filter((t) => t.number !== self.number).map((t) => ({ id: `tracker-${t.number}`, url: t.url })),
      secret,
      logger,
      testSwitches: config.testSwitches,
      ...(config.caPath !== undefined ? { ca: await readCaFile(config.caPath) } : {}),
    },
  });
  const app = createApp(tracker);
  const server = config.tls
    ? createHttpsServer({ cert: await readFile(config.tls.certPath), key: await readFile(config.tls.keyPath) }, app).listen(config.port ?? self.port, self.host)
    : app.listen(config.port ?? self.port, self.host);
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const { port } = server.address() as AddressInfo;
  logger.info({ trackerId, address: `${self.host}:${port}`, dataDir: config.dataDir, database: config.databaseUrl ? "postgresql" : "sqlite", pid: process.pid },
    cluster.isWorker ? "tracker API process listening" : "tracker listening; type quit to stop");
  await tracker.start();

  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, "stopping: finishing requests in flight");
    tracker.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections?.();
    await database.close();
    logger.info("stopped");
    logger.flush?.();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  // A worker is stopped by its primary (which reads stdin).
  if (cluster.isWorker) {
    process.once("disconnect", () => void stop("primary stopping"));
    return;
  }
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    if (line.trim().toLowerCase() === "quit") void stop("quit");
    else if (line.trim() !== "") process.stdout.write(`unknown command "${line.trim()}"; type quit to stop the tracker\n`);
  });
}

main().catch((error: unknown) => {
  // commander has already printed its own usage error
  if (error instanceof CommanderError) process.exit(error.exitCode);
  const message = error instanceof AppError ? error.message : String((error as Error).stack ?? error);
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
});
