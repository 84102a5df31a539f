import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { AddressInfo } from "node:net";
import { CommanderError } from "commander";
import { createLogger } from "../../core/logger.js";
import { AppError } from "../../core/errors.js";
import { readCaFile, readTrackerInfo, selectTracker } from "../../core/tracker-info.js";
import { createServer as createHttpsServer } from "node:https";
import { readFile } from "node:fs/promises";
import { parseTrackerArgs } from "./config.js";
import { checkpointInBackground } from "./db/checkpoints.js";
import { openDatabase } from "./db/open.js";
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
  const dbPath = join(config.dataDir, "tracker.db");
  const db = await openDatabase(dbPath);
  const checkpointer = checkpointInBackground(dbPath);
  const { origin, fresh } = await loadIncarnation(db, trackerId);
  const tracker = createTracker({
    db,
    id: trackerId,
    grantKey: await loadGrantKey(trackerId, config.dataDir),
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
    ? createHttpsServer({ cert: await readFile(config.tls.certPath), key: await readFile(config.tls.keyPath) }, app).listen(self.port, self.host)
    : app.listen(self.port, self.host);
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const { port } = server.address() as AddressInfo;
  logger.info({ trackerId, address: `${self.host}:${port}`, dataDir: config.dataDir }, "tracker listening; type quit to stop");
  await tracker.start();

  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, "stopping: finishing requests in flight");
    tracker.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections?.();
    await checkpointer.stop();
    await db.$disconnect();
    logger.info("stopped");
    logger.flush?.();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
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
