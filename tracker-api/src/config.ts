import { resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";

export interface TrackerConfig {
  trackerInfoPath: string;
  trackerNumber: number;
  dataDir: string;
  logLevel: string;
  /** Shared by every tracker of the network to sign replication; undefined = the loopback-only demo secret. */
  clusterSecret: string | undefined;
  /** P2P_TEST_SWITCHES=1: enables the replication partition switch (tests only). */
  testSwitches: boolean;
  /** --tls-cert/--tls-key: serve HTTPS with these PEM files; both or neither. */
  tls?: { certPath: string; keyPath: string };
  /** --ca: PEM file of a CA trusted for https peer trackers besides the system's. */
  caPath?: string;
}

/** Reads the tracker's settings from its command line and environment, with demo-friendly defaults. */
export function parseTrackerArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): TrackerConfig {
  const program = new Command("tracker")
    .description("Run tracker N of the network described in tracker_info.txt")
    .argument("<tracker_info>", "file listing every tracker as ip:port (or ip port), one per line")
    .argument("<tracker_no>", "which line of the file is this tracker (1-based)", (value) => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive whole number");
      return n;
    })
    .option("--data-dir <dir>", "where this tracker keeps its database and keys (env P2P_TRACKER_DATA_DIR)")
    .option("--log-level <level>", "pino log level", env.P2P_LOG_LEVEL ?? "info")
    .option("--cluster-secret <secret>", "secret shared by all trackers to sign replication (env P2P_CLUSTER_SECRET)")
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate (chain); list the tracker as https://host:port")
    .option("--tls-key <file>", "the PEM private key of --tls-cert")
    .option("--ca <file>", "PEM certificate(s) of a CA trusted for https:// peer trackers, besides the system's")
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program.parse(argv, { from: "user" });
  const [trackerInfoPath, trackerNumber] = program.processedArgs as [string, number];
  const options = program.opts<{ dataDir?: string; logLevel: string; clusterSecret?: string; tlsCert?: string; tlsKey?: string; ca?: string }>();
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  return {
    trackerInfoPath,
    trackerNumber,
    dataDir: resolve(options.dataDir ?? env.P2P_TRACKER_DATA_DIR ?? `.data/tracker-${trackerNumber}`),
    logLevel: options.logLevel,
    clusterSecret: options.clusterSecret ?? (env.P2P_CLUSTER_SECRET || undefined),
    testSwitches: env.P2P_TEST_SWITCHES === "1",
    ...(options.tlsCert && options.tlsKey ? { tls: { certPath: resolve(options.tlsCert), keyPath: resolve(options.tlsKey) } } : {}),
    ...(options.ca !== undefined ? { caPath: resolve(options.ca) } : {}),
  };
}

/**
 * Failed-login throttling (domain/login-throttle.ts). An account gets 5 free
 * failures from addresses it never logged in from, then waits 1 s, 2 s, 4 s …
 * up to 15 min per further failure: online guessing becomes hopeless while a
 * forgetful owner waits seconds. A (account, address) pair gets the same. An
 * address gets 30 failures over any accounts before it waits: the users of a
 * NAT mistype their own passwords without locking each other out, and an
 * address guessing at many accounts is still stopped. Counters are forgotten
 * after an hour without failures; each map holds at most 100 000 keys (about
 * 10 MB), the bound on what a flood of made-up names or addresses makes a
 * tracker keep.
 */
export const LOGIN_THROTTLE = {
  accountFreeFailures: 5,
  pairFreeFailures: 5,
  addressFreeFailures: 30,
  baseDelayMs: 1000,
  maxDelayMs: 15 * 60_000,
  forgetMs: 60 * 60_000,
  knownAddressesPerAccount: 8,
  maxEntries: 100_000,
} as const;

/** Login attempts are sent to the other trackers in batches at most this often (ms), at most this many per batch. */
export const LOGIN_ATTEMPTS_FLUSH_MS = 100;
export const LOGIN_ATTEMPTS_PER_BATCH = 1000;
