import { CommanderError } from "commander";
import { createLogger } from "../../core/logger.js";
import { AppError } from "../../core/errors.js";
import { readCaFile, readTrackerInfo } from "../../core/tracker-info.js";
import { resolve } from "node:path";
import { parseListenAddress, parsePeerAgentArgs } from "./config.js";
import { connectToAgent, stopAgent } from "./control/client.js";
import { assertStateDirFree } from "./control/control-file.js";
import { startControlServer } from "./control/server.js";
import { explainListenError } from "./listen-error.js";
import { startPeerNode } from "./peer-node.js";

/** `peer-agent stop <IP>:<PORT> [--state-dir DIR]`: stops the agent serving that address, from any folder. */
async function stopCommand(argv: string[]): Promise<void> {
  const [address, option, dir, ...rest] = argv;
  if (address === undefined || rest.length > 0 || (option !== undefined && (option !== "--state-dir" || dir === undefined))) {
    process.stderr.write("usage: peer-agent stop <IP>:<PORT> [--state-dir <dir>]\n");
    process.exit(2);
  }
  let listen: { host: string; port: number };
  try {
    listen = parseListenAddress(address);
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    return process.exit(2);
  }
  const { host, port } = listen;
  const node = await connectToAgent({ host, port, ...(dir !== undefined ? { stateDir: resolve(dir) } : {}) });
  try {
    process.stdout.write(`stopped the agent (pid ${await stopAgent(node)})\n`);
  } finally {
    await node.close();
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === "stop") return stopCommand(process.argv.slice(3));
  const config = parsePeerAgentArgs(process.argv.slice(2));
  const logger = createLogger(config.logLevel);
  const trackers = await readTrackerInfo(config.trackerInfoPath);
  await assertStateDirFree(config.stateDir);
  const node = await startPeerNode({
    ...config.listen,
    trackers,
    stateDir: config.stateDir,
    rates: config.rates,
    maxActiveDownloads: config.maxActiveDownloads,
    tls: config.tls,
    ...(config.caPath !== undefined ? { trackerCa: await readCaFile(config.caPath) } : {}),
    insecure: config.insecure,
    onNotice: (line) => logger.warn(line),
    onDownloadEnded: (info) =>
      logger.info({ download: info.id, group: info.groupId, file: info.fileName, state: info.state, error: info.error }, "download ended"),
  }).catch((error: unknown) => {
    throw explainListenError(error, `${config.listen.host}:${config.listen.port}`);
  });
  // Signals are handled from before agent.pid exists: whoever reads it may stop the agent at once.
  let control: ReturnType<typeof startControlServer> | undefined;
  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, "stopping: downloads resume at the next login");
    await (await control?.catch(() => undefined))?.close();
    await node.close();
    logger.flush?.();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  control = startControlServer(node, config.stateDir, node.peerAddress, { onStop: () => void stop("stop command") });
  await control;
  logger.info(
    { address: node.peerAddress, stateDir: config.stateDir, pid: process.pid },
    `peer agent serving; log in with: client --agent ${node.peerAddress} login <user_id> <password>; stop with: client --agent ${node.peerAddress} stop`,
  );
}

main().catch((error: unknown) => {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  const message = error instanceof AppError ? error.message : String((error as Error).stack ?? error);
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
});
