import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
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

/** `peer-<host>-<port>`: the name of an agent's folder, one per listening address. */
export function agentDirName(address: ListenAddress): string {
  return `peer-${address.host.replace(/[^A-Za-z0-9.-]/g, "_")}-${address.port}`;
}

/**
 * This program's folder in the user's state directory (XDG Base Directory:
 * `$XDG_STATE_HOME`, else `~/.local/state`), so that an agent's state does not
 * depend on the folder it was started from.
 */
export function userStateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : join(homedir(), ".local", "state");
  return join(base, "p2p-group-share");
}

/**
 * Where an agent keeps its state when no --state-dir is given: env
 * P2P_STATE_DIR; else `.p2p/peer-<ip>-<port>` in the working directory if it
 * exists (where earlier versions kept it, so nobody's shares are lost); else
 * one folder per listening address under the user's state directory.
 */
export function defaultStateDir(address: ListenAddress, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (env.P2P_STATE_DIR) return resolve(cwd, env.P2P_STATE_DIR);
  const legacy = resolve(cwd, ".p2p", agentDirName(address));
  if (existsSync(legacy)) return legacy;
  return join(userStateRoot(env), agentDirName(address));
}

export interface PeerAgentConfig {
  listen: ListenAddress;
  trackerInfoPath: string;
  stateDir: string;
  logLevel: string;
  /** Bytes per second for all uploads / all downloads; undefined: unlimited. */
  rates: { up?: number; down?: number };
  /** Downloads that run at once; undefined: the agent's default. */
  maxActiveDownloads?: number;
  /** Serve pieces over TLS with a pinned self-signed certificate; false only with --plain-http. */
  tls: boolean;
  /** --ca: PEM file of a CA trusted for https trackers besides the system's. */
  caPath?: string;
  /** --insecure: passwords may go to plain-HTTP trackers off this machine. */
  insecure: boolean;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number of at least 1, got "${value}"`);
  return n;
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
    .description(
      "Run a peer agent as a background service; drive it with client --agent IP:PORT <command>.\n" +
        "Stop it with SIGTERM or Ctrl-C, or from anywhere with: peer-agent stop IP:PORT (or client --agent IP:PORT stop).",
    )
    .argument("<address>", "IP:PORT to serve pieces on", parseListenAddress)
    .argument("<tracker_info>", "file listing every tracker as ip:port, one per line")
    .option("--state-dir <dir>", "where the agent keeps its shares and downloads (env P2P_STATE_DIR)")
    .option("--log-level <level>", "pino log level", env.P2P_LOG_LEVEL ?? "info")
    .option("--max-upload-rate <rate>", "limit all uploads together, e.g. 2M (MiB/s); 0 uploads nothing (set_rate changes it while running)", rateOption)
    .option("--max-download-rate <rate>", "limit all downloads together, e.g. 10M", rateOption)
    .option("--max-active-downloads <n>", "downloads that run at once; the others wait as [Q] (default 3)", positiveInteger)
    .option("--ca <file>", "PEM certificate(s) of a CA trusted for https:// trackers, besides the system's")
    .option("--insecure", "send passwords to trackers listed as plain ip:port even when they are not on this machine")
    .option("--plain-http", "serve pieces without TLS (anyone on the path reads them); for measuring what TLS costs")
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program.parse(argv, { from: "user" });
  const [listen, trackerInfoPath] = program.processedArgs as [ListenAddress, string];
  const options = program.opts<{ stateDir?: string; logLevel: string; maxUploadRate?: number; maxDownloadRate?: number; maxActiveDownloads?: number; plainHttp?: boolean; ca?: string; insecure?: boolean }>();
  return {
    listen,
    trackerInfoPath,
    stateDir: options.stateDir ? resolve(options.stateDir) : defaultStateDir(listen, env),
    logLevel: options.logLevel,
    tls: options.plainHttp !== true,
    ...(options.ca !== undefined ? { caPath: resolve(options.ca) } : {}),
    insecure: options.insecure === true,
    ...(options.maxActiveDownloads !== undefined ? { maxActiveDownloads: options.maxActiveDownloads } : {}),
    rates: {
      ...(options.maxUploadRate !== undefined ? { up: options.maxUploadRate } : {}),
      ...(options.maxDownloadRate !== undefined ? { down: options.maxDownloadRate } : {}),
    },
  };
}

/**
 * How a served grant's standing is checked with the tracker (grant-status.ts):
 * the grants in use are asked about together every GRANT_RECHECK_MS, and a
 * range is served on a verdict at most GRANT_VERDICT_MAX_AGE_MS old (an older
 * one is asked again first). Revocation (leave, removal, logout, password
 * change) must stop ranges within 5 s: 4 s of verdict age leaves a second
 * for replication between trackers and the round trip. Grants not used for
 * GRANT_FORGET_MS are dropped from the list, so an idle agent asks nothing.
 */
export const GRANT_RECHECK_MS = 2000;
export const GRANT_VERDICT_MAX_AGE_MS = 4000;
export const GRANT_FORGET_MS = 30_000;

/**
 * An agent tells the downloaders watching a file what changed (pieces
 * verified, runs being sent) at most once per this many ms per file: in a
 * flash crowd a piece is verified and a request served every few ms, and
 * one event stream write per watcher for each cost a syscall here and a
 * wake-up, a parse and a picker step at every watcher. News after a quiet
 * spell still goes out at once (bench:swarm, docs/performance.md "Swarm").
 */
export const SWARM_EVENT_BATCH_MS = 50;

/**
 * The piece worker reads back and hashes at most this many pieces written
 * ahead of the whole-file SHA1's prefix per turn (4 MiB at 512 KiB), so a
 * piece that fills a gap in the prefix never keeps the pieces queued behind
 * it waiting for a catch-up of hundreds of MiB (piece-worker.ts).
 */
export const PREFIX_CATCH_UP_PIECES = 8;
