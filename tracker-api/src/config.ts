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
