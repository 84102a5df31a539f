import { resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { parseByteRate } from "../../core/byte-rate.js";

export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses `IP:PORT` (IPv6 in brackets) for a peer agent to listen on. */
export function parseListenAddress(value: string): ListenAddress {
  const match = /^(\[[0-9a-fA-F:]+\]|[^\s:/]+):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new InvalidArgumentError(`expected IP:PORT, e.g. 127.0.0.1:7001, got "${value}"`);
  return { host: match[1]!, port };
}

/**
 * Where an agent keeps its state when no --state-dir is given: one directory
 * per listening address under the working directory, so several clients on one
 * machine never share state by accident.
 */
export function defaultStateDir(address: ListenAddress, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.P2P_STATE_DIR ?? `.p2p/peer-${address.host.replace(/[^A-Za-z0-9.-]/g, "_")}-${address.port}`);
}

export interface PeerAgentConfig {
  listen: ListenAddress;
  trackerInfoPath: string;
  stateDir: string;
  logLevel: string;
  /** Bytes per second for all uploads / all downloads; undefined: unlimited. */
  rates: { up?: number; down?: number };
}

function rateOption(value: string): number | undefined {
  try {
    return parseByteRate(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** `peer-agent <IP>:<PORT> tracker_info.txt [--state-dir DIR]` */
export function parsePeerAgentArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): PeerAgentConfig {
  const program = new Command("peer-agent")
    .description("Run a peer agent as a background service; drive it with client --agent IP:PORT <command>")
    .argument("<address>", "IP:PORT to serve pieces on", parseListenAddress)
    .argument("<tracker_info>", "file listing every tracker as ip:port, one per line")
    .option("--state-dir <dir>", "where the agent keeps its shares and downloads (env P2P_STATE_DIR)")
    .option("--log-level <level>", "pino log level", env.P2P_LOG_LEVEL ?? "info")
    .option("--max-upload-rate <rate>", "limit all uploads together, e.g. 2M (MiB/s); 0 uploads nothing (set_rate changes it while running)", rateOption)
    .option("--max-download-rate <rate>", "limit all downloads together, e.g. 10M", rateOption)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program.parse(argv, { from: "user" });
  const [listen, trackerInfoPath] = program.processedArgs as [ListenAddress, string];
  const options = program.opts<{ stateDir?: string; logLevel: string; maxUploadRate?: number; maxDownloadRate?: number }>();
  return {
    listen,
    trackerInfoPath,
    stateDir: options.stateDir ? resolve(options.stateDir) : defaultStateDir(listen, env),
    logLevel: options.logLevel,
    rates: {
      ...(options.maxUploadRate !== undefined ? { up: options.maxUploadRate } : {}),
      ...(options.maxDownloadRate !== undefined ? { down: options.maxDownloadRate } : {}),
    },
  };
}
