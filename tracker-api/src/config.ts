import { resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { isPostgresUrl } from "./db/postgres-url.js";

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
  /** --database-url or DATABASE_URL (postgresql://…): the tracker's PostgreSQL database; undefined = SQLite in dataDir. */
  databaseUrl?: string;
  /** --workers: API processes serving the tracker's port (node:cluster); more than one needs PostgreSQL. */
  workers: number;
  /** --port: listen here instead of on tracker_info's port (one of several processes behind a reverse proxy at the listed address). */
  port?: number;
  /** --max-groups-per-user, --max-files-per-user, --max-pending-requests: the per-user quotas given (TRACKER.QUOTAS for the others). */
  quotas: { groupsOwned?: number; filesShared?: number; pendingJoinRequests?: number };
}

/** A whole number of at least `min`, for commander. */
function wholeNumber(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(min === 1 ? "must be a positive whole number" : `must be a whole number of at least ${min}`);
    }
    return n;
  };
}

/** Reads the tracker's settings from its command line and environment, with demo-friendly defaults. */
export function parseTrackerArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): TrackerConfig {
  const program = new Command("tracker")
    .description("Run tracker N of the network described in tracker_info.txt")
    .argument("<tracker_info>", "file listing every tracker as ip:port (or ip port), one per line")
    .argument("<tracker_no>", "which line of the file is this tracker (1-based)", wholeNumber(1))
    .option("--data-dir <dir>", "where this tracker keeps its database and keys (env P2P_TRACKER_DATA_DIR)")
    .option("--log-level <level>", "pino log level", env.P2P_LOG_LEVEL ?? "info")
    .option("--cluster-secret <secret>", "secret shared by all trackers to sign replication (env P2P_CLUSTER_SECRET)")
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate (chain); list the tracker as https://host:port")
    .option("--tls-key <file>", "the PEM private key of --tls-cert")
    .option("--ca <file>", "PEM certificate(s) of a CA trusted for https:// peer trackers, besides the system's")
    .option("--database-url <url>", "run on this PostgreSQL database (postgresql://user:password@host:port/db) instead of SQLite in --data-dir (env DATABASE_URL)")
    .option("--port <n>", "listen on this port instead of tracker_info's (a process behind a reverse proxy serving the listed address)", wholeNumber(1))
    .option("--workers <n>", "API processes serving this tracker's port, on one PostgreSQL database (default 1)", wholeNumber(1))
    .option("--max-groups-per-user <n>", `groups one user may own (default ${TRACKER.QUOTAS.groupsOwned})`, wholeNumber(1))
    .option("--max-files-per-user <n>", `files one user may share, over all groups (default ${TRACKER.QUOTAS.filesShared})`, wholeNumber(1))
    .option("--max-pending-requests <n>", `join requests one user may have waiting at once (default ${TRACKER.QUOTAS.pendingJoinRequests})`, wholeNumber(1))
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });
  program.parse(argv, { from: "user" });
  const [trackerInfoPath, trackerNumber] = program.processedArgs as [string, number];
  const options = program.opts<{
    dataDir?: string; logLevel: string; clusterSecret?: string; tlsCert?: string; tlsKey?: string; ca?: string; databaseUrl?: string; workers?: number; port?: number;
    maxGroupsPerUser?: number; maxFilesPerUser?: number; maxPendingRequests?: number;
  }>();
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  // DATABASE_URL may name the SQLite file the Prisma CLI works on (prisma.config.ts): only a PostgreSQL one selects PostgreSQL.
  const databaseUrl = options.databaseUrl ?? (isPostgresUrl(env.DATABASE_URL ?? "") ? env.DATABASE_URL : undefined);
  if (databaseUrl !== undefined && !isPostgresUrl(databaseUrl)) {
    throw new InvalidArgumentError("--database-url must be a postgresql:// URL (SQLite needs none: it lives in --data-dir)");
  }
  const workers = options.workers ?? 1;
  if (workers > 1 && databaseUrl === undefined) {
    throw new InvalidArgumentError("--workers above 1 needs --database-url: a SQLite database is served by one process");
  }
  return {
    trackerInfoPath,
    ...(databaseUrl !== undefined ? { databaseUrl } : {}),
    workers,
    ...(options.port !== undefined ? { port: options.port } : {}),
    trackerNumber,
    dataDir: resolve(options.dataDir ?? env.P2P_TRACKER_DATA_DIR ?? `.data/tracker-${trackerNumber}`),
    logLevel: options.logLevel,
    clusterSecret: options.clusterSecret ?? (env.P2P_CLUSTER_SECRET || undefined),
    testSwitches: env.P2P_TEST_SWITCHES === "1",
    ...(options.tlsCert && options.tlsKey ? { tls: { certPath: resolve(options.tlsCert), keyPath: resolve(options.tlsKey) } } : {}),
    ...(options.ca !== undefined ? { caPath: resolve(options.ca) } : {}),
    quotas: {
      ...(options.maxGroupsPerUser !== undefined ? { groupsOwned: options.maxGroupsPerUser } : {}),
      ...(options.maxFilesPerUser !== undefined ? { filesShared: options.maxFilesPerUser } : {}),
      ...(options.maxPendingRequests !== undefined ? { pendingJoinRequests: options.maxPendingRequests } : {}),
    },
  };
}

/**
 * Every tunable of the tracker, with the reason for its value (and where the
 * measurement behind it is, for those set by a bench). Frozen: a value is
 * changed here, never where it is used.
 */
export const TRACKER = Object.freeze({
  /** 8 MiB admits the piece list of a file of about 80 GiB, or the manifest of a folder of MAX_FOLDER_FILES files with ~60-byte paths. */
  BODY_LIMIT: "8mb",
  /** Files one shared folder may list: its manifest travels in every share event and fits BODY_LIMIT. */
  MAX_FOLDER_FILES: 100_000,
  /** The API's deepest body nests 3 levels; anything past this is an attack on recursive code, refused before parsing. */
  MAX_JSON_DEPTH: 32,
  /** A login lasts a day: long enough for a working day of downloads, short enough that a leaked token dies on its own. */
  SESSION_TTL_MS: 24 * 60 * 60 * 1000,
  /** Sessions looked up kept in memory (every authenticated request needs one); the oldest make room. */
  MAX_KNOWN_SESSIONS: 10_000,
  /** Heartbeats of one session are replicated at most this often (the online window is 60 s). */
  SEEN_EVERY_MS: 10_000,
  /** Sessions remembered; the oldest make room. */
  MAX_REMEMBERED_HEARTBEATS: 100_000,
  /**
   * Pages kept per group list (a page is identified by where it starts and ends),
   * and the bytes of their bodies: more than a whole 10,000-file list (1.5 MB),
   * so every page of a walk stays, but bounded whatever limits and cursors are
   * asked for. The least recently asked for make room.
   */
  MAX_CACHED_PAGES: 64,
  /** Bytes of the kept pages' bodies per group list (see MAX_CACHED_PAGES). */
  MAX_CACHED_PAGE_BYTES: 2 * 1024 * 1024,
  /** Groups whose file list is kept; the least recently listed makes room. */
  MAX_CACHED_GROUPS: 32,
  /** How long an answer is kept for retries. */
  IDEMPOTENCY_TTL_MS: 24 * 60 * 60 * 1000,
  /** Expired idempotency answers are deleted at most this often (a sweep is one statement, run after an answer). */
  IDEMPOTENCY_SWEEP_EVERY_MS: 60_000,
  /** How long a write waits for the other trackers before its client gets the answer anyway. */
  PUSH_WAIT_MS: 300,
  /** Events per push to another tracker: a catch-up after downtime goes in few requests, each well under REPLICATION_BODY_LIMIT. */
  PUSH_BATCH: 500,
  /** Events per pull (catch-up) answer: bounded so a tracker far behind does not ask for its whole log at once. */
  PULL_BATCH: 2000,
  /** Events per pull answer when the asker names no limit (trackers always ask for PULL_BATCH; this is for a hand-made query). */
  PULL_DEFAULT_LIMIT: 1000,
  /**
   * How long applying a batch of replicated events (up to PULL_BATCH, piece
   * lists included) may wait for the write lock and run in its one
   * transaction before it fails and is retried: far above a batch's time in
   * bench:sync, it only catches a database that hangs.
   */
  APPLY_TRANSACTION_TIMEOUT_MS: 60_000,
  /** A tracker that does not answer is retried at most this far apart, so it is caught up within seconds of coming back. */
  MAX_BACKOFF_MS: 5000,
  /** The first retry of a failed push: soon, as most failures are a restart or a brief overload. */
  FIRST_BACKOFF_MS: 100,
  /** How often each link pulls what it may have missed and pushes what is unacknowledged, whatever pushes did. */
  ANTI_ENTROPY_MS: 1000,
  /** How many of its own newest events a tracker keeps in memory for pushes. */
  RECENT_EVENTS: 10_000,
  /**
   * How long a tracker on a new database refuses writes while no other tracker
   * answers: after that it is taken as new (its origin is new anyway, so its
   * writes can never be mistaken for the lost database's; what it had comes
   * back whenever another tracker answers, and the name rules settle overlaps).
   */
  RECOVERY_WAIT_MS: 30_000,
  /** While recovering, the other trackers are asked again this often until one answers or RECOVERY_WAIT_MS passes: a restarted peer is noticed within a fraction of a second. */
  RECOVERY_POLL_MS: 200,
  /**
   * /health needs no login and a digest reads the whole state (about a second
   * with 40,000 groups; a flood of 200 health calls slowed every login
   * behind it: docs/performance.md, "/health under a flood"), so health shows a digest
   * kept in the background (replication/kept-digest.ts): one at a time, at
   * most one per HEALTH_DIGEST_MIN_GAP_MS, and at most HEALTH_DIGEST_SHARE of
   * the time, however many ask.
   */
  HEALTH_DIGEST_MIN_GAP_MS: 250,
  /** The share of its time a tracker spends at most on digests for /health: after a digest, it pauses 9 times as long. */
  HEALTH_DIGEST_SHARE: 0.1,
  /** A kept digest is read again after this long even when no event was applied, to see a database changed behind the rules' back (`diverged`). */
  HEALTH_DIGEST_MAX_AGE_MS: 1000,
  /** Rows per query of a digest: other requests run between two pages, each a few ms. */
  DIGEST_ROWS_PER_QUERY: 500,
  /**
   * /health answers (over all callers) at most `perSecond` a second after a
   * burst of `burst`; the rest wait in line, up to `maxWaiting`, beyond which
   * they get 429 HEALTH_BUSY. A monitor asks every few seconds, and nothing
   * in the project calls it on a hot path; even an answer with nothing to
   * read costs an HTTP round of work, and 200 connections asking back to
   * back without a pace still took a login's p99 many times over
   * (docs/performance.md, "/health under a flood"). Waiting costs a socket, not CPU.
   */
  HEALTH_PACE: Object.freeze({ perSecond: 50, burst: 50, maxWaiting: 1000 }),
  /**
   * The signed /replication/digest (other trackers' divergence checks, operators
   * holding the cluster secret) reads the state now, but concurrent askers share
   * one reading, reused while no event was applied (up to this long) and for
   * HEALTH_FLOOD_MS in any case.
   */
  HEALTH_ANSWER_MS: 1000,
  /** The shortest reuse of a /replication/digest answer, however often it is asked for (see HEALTH_ANSWER_MS). */
  HEALTH_FLOOD_MS: 100,
  /** What a write refused while recovering tells its client to wait (a client fails over to another tracker at once). */
  RECOVERING_RETRY_AFTER_S: 2,
  /**
   * How long a write's open transaction waits for its answer. The answer is
   * normally sent in the same turn of the event loop as the write's result; this
   * only bounds a request that reads the database, or does something slow,
   * between its write and its answer (the open transaction holds the connection):
   * the write then commits alone and its answer is recorded after it.
   */
  ANSWER_WAIT_MS: 100,
  /** A push of PUSH_BATCH events that each carry a piece list of up to BODY_LIMIT fits, with room. */
  REPLICATION_BODY_LIMIT: "64mb",
  /** Deliveries older (or further in the future) than this are refused; ids are remembered this long. */
  SIGNATURE_WINDOW_MS: 5 * 60 * 1000,
  /** Conditions per statement, so that no statement nears a database's limit of bound parameters. */
  REGISTER_CONDITIONS_PER_STATEMENT: 100,
  /** Idempotency answers stored per statement: each carries a whole answer body, so fewer than conditions. */
  ANSWERS_PER_STATEMENT: 20,
  /**
   * Connections per API process to PostgreSQL: each write holds one for its
   * transaction (writes run side by side, taking turns only for the state they
   * share and for the log's last statements), the reads take the rest; 10
   * serve the 10 connections of bench:tracker, and 4 processes stay far below
   * PostgreSQL's default of 100 connections.
   */
  POSTGRES_POOL_SIZE: 10,
  /** A pooled PostgreSQL connection idle this long is closed (a quiet tracker holds none). */
  POSTGRES_IDLE_MS: 30_000,
  /** A PostgreSQL server that does not accept a connection within this fails the request (503 from the error handler) instead of hanging it. */
  POSTGRES_CONNECT_TIMEOUT_MS: 5000,
  /** PostgreSQL refuses a notification payload past 8000 bytes; a message to the sibling processes stays below. */
  SIBLING_MESSAGE_BYTES: 7900,
  /** How long a stopped --workers process waits before the primary starts it again, so a process that dies at start does not spin. */
  WORKER_RESTART_DELAY_MS: 1000,
  /** How long a statement waits for a lock held by another connection (e.g. a backup) before failing. */
  BUSY_TIMEOUT_MS: 5000,
  /**
   * WAL size (pages) at which the tracker's connection checkpoints by itself: only
   * when the background checkpointer falls behind (normally it keeps the WAL far smaller).
   */
  SELF_CHECKPOINT_PAGES: 10_000,
  /**
   * The SQLite bundled here refuses a statement with more than 999 bound
   * values, and Prisma binds one per element of an `in` list: a user who owns
   * a thousand groups made every `GET /groups?limit=1000` fail with 500. Lists
   * of ids go to the database in chunks of this many, whatever their length.
   */
  IDS_PER_STATEMENT: 500,
  /** How often the background checkpointer looks at the WAL when the last pass caught up. */
  CHECKPOINT_EVERY_MS: 200,
  /** Passes in a row while commits keep outrunning it, before it sleeps again. */
  CHECKPOINT_PASSES_PER_ROUND: 5,
  /** A peer that has not announced itself for this long is not handed out. */
  ONLINE_WINDOW_MS: 60_000,
  /** How often peers are asked to announce themselves: several heartbeats fit in the online window. */
  HEARTBEAT_SECONDS: 15,
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
  LOGIN_THROTTLE: Object.freeze({
    accountFreeFailures: 5,
    pairFreeFailures: 5,
    addressFreeFailures: 30,
    baseDelayMs: 1000,
    maxDelayMs: 15 * 60_000,
    forgetMs: 60 * 60_000,
    knownAddressesPerAccount: 8,
    maxEntries: 100_000,
  }),
  /** Login attempts go to the other trackers in batches at most this often: a guessing flood costs them one request per 100 ms, not one per guess. */
  LOGIN_ATTEMPTS_FLUSH_MS: 100,
  /** Attempts per batch, sent or accepted: bounds what one batch makes a tracker do (the rest of a flood is dropped, the sender's own counts still hold). */
  LOGIN_ATTEMPTS_PER_BATCH: 1000,
  /** Another tracker on the network that does not accept a connection within this is taken as down (retried with backoff). */
  PEER_CONNECT_TIMEOUT_MS: 1000,
  /** A push or pull answer slower than this is a failure: a catch-up page of PULL_BATCH events takes far less. */
  PEER_ANSWER_TIMEOUT_MS: 10_000,
  /** Connections to the other trackers stay open between pushes (one push per write when busy). */
  PEER_KEEP_ALIVE_MS: 30_000,
  /**
   * Per-user quotas, far above what a group of friends ever reaches, so they
   * only stop a runaway script or an abusive account from growing the
   * replicated state (every row is copied to every tracker and read by
   * /health's digest) without bound. 1000 groups owned: a person has a few
   * dozen circles at most, and 1000 is where `GET /groups?limit=1000` still
   * answers in one page. 100 000 files shared (the user's holdings, counted
   * when a share would add one; holdings a download adds through announce
   * count but are not refused): a large media library, file by file, across
   * all groups. 200 join
   * requests pending at once: nobody waits on 200 owners; more is spam.
   * Refused with 403 QUOTA_EXCEEDED, not 429: a quota is not a rate, waiting
   * does not lift it (only deleting, leaving or a withdrawn request does), so
   * there is no Retry-After to give.
   */
  QUOTAS: Object.freeze({
    groupsOwned: 1000,
    filesShared: 100_000,
    pendingJoinRequests: 200,
  }),
});
