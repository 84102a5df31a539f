import { CommanderError } from "commander";
import { createLogger } from "../../core/logger.js";
import { AppError } from "../../core/errors.js";
import { readTrackerInfo } from "../../core/tracker-info.js";
import { parsePeerAgentArgs } from "./config.js";
import { assertStateDirFree } from "./control/control-file.js";
import { startControlServer } from "./control/server.js";
import { startPeerNode } from "./peer-node.js";

async function main(): Promise<void> {
  const config = parsePeerAgentArgs(process.argv.slice(2));
  const logger = createLogger(config.logLevel);
  const trackers = await readTrackerInfo(config.trackerInfoPath);
  await assertStateDirFree(config.stateDir);
  const node = await startPeerNode({
    ...config.listen,
    trackers,
    stateDir: config.stateDir,
    rates: config.rates,
    onNotice: (line) => logger.warn(line),
    onDownloadEnded: (info) =>
      logger.info({ download: info.id, group: info.groupId, file: info.fileName, state: info.state, error: info.error }, "download ended"),
  });
  const control = await startControlServer(node, config.stateDir, node.peerAddress);
  logger.info(
    { address: node.peerAddress, stateDir: config.stateDir },
    `peer agent serving; log in with: client --agent ${node.peerAddress} login <user_id> <password>`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping: downloads resume at the next login");
    await control.close();
    await node.close();
    logger.flush?.();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
}

main().catch((error: unknown) => {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  const message = error instanceof AppError ? error.message : String((error as Error).stack ?? error);
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
});
