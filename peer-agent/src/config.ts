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
    .option("--max-active-downloads <n>", `downloads that run at once; the others wait as [Q] (default ${AGENT.MAX_ACTIVE_DOWNLOADS})`, positiveInteger)
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
 * Every tunable of the peer agent (its piece server, its downloads, its
 * control endpoint), with the reason for its value (and where the measurement
 * behind it is, for those set by a bench). Frozen: a value is changed here,
 * never where it is used. Options that a caller may set per call (tests,
 * benches) take their defaults from here.
 */
export const AGENT = Object.freeze({
  /** Three downloads at once: enough to keep a link busy, few enough that each one finishes soon instead of all finishing late (--max-active-downloads changes it). */
  MAX_ACTIVE_DOWNLOADS: 3,
  /** Partial holdings are announced to the tracker at most this often while pieces arrive. */
  PROGRESS_ANNOUNCE_MS: 1000,
  /** Announces are repeated this often until the tracker's first answer says its own interval (TRACKER.HEARTBEAT_SECONDS, the same 15 s). */
  FIRST_HEARTBEAT_MS: 15_000,

  /**
   * How a served grant's standing is checked with the tracker (grant-status.ts):
   * the grants in use are asked about together every GRANT_RECHECK_MS, and a
   * range is served on a verdict at most GRANT_VERDICT_MAX_AGE_MS old (an older
   * one is asked again first). Revocation (leave, removal, logout, password
   * change) must stop ranges within 5 s: 4 s of verdict age leaves a second
   * for replication between trackers and the round trip. Grants not used for
   * GRANT_FORGET_MS are dropped from the list, so an idle agent asks nothing.
   */
  GRANT_RECHECK_MS: 2000,
  /** The oldest verdict a range is served on (see GRANT_RECHECK_MS). */
  GRANT_VERDICT_MAX_AGE_MS: 4000,
  /** A grant not used for this long is no longer asked about (see GRANT_RECHECK_MS). */
  GRANT_FORGET_MS: 30_000,
  /** The tracker takes at most this many grants per question (GrantStatusRequest). */
  GRANT_STATUS_PER_QUESTION: 200,
  /** A successful grant check is reused for the same token, group and file for at most this long (never past the grant's expiry). */
  GRANT_CACHE_MS: 30_000,
  /** Grant checks kept for reuse (see GRANT_CACHE_MS); the oldest make room. */
  GRANT_CACHE_ENTRIES: 1000,
  /** How often a grant signed by an unknown key may trigger a fresh fetch of the trackers' keys. */
  KEYS_REFETCH_AT_MOST_EVERY_MS: 5000,
  /** With no keys at all (the trackers were down at the last fetch), a grant fetches them again if that fetch is older than this. */
  KEYS_EMPTY_REFETCH_MS: 1000,

  /** A leech-only agent (upload limit 0) tells downloaders to come back after this long: its limit may be raised meanwhile. */
  UPLOAD_OFF_RETRY_SECONDS: 60,
  /** An open file is closed after this long without a request for it. */
  OPEN_FILE_IDLE_MS: 5000,
  /**
   * A shared file being served is compared with its size and modification
   * time when hashed at most this often: a file changed on disk stops being
   * shared within about this long of its next request, instead of sending
   * pieces that fail their SHA1 until every downloader has banned this agent.
   */
  SHARED_FILE_CHECK_MS: 1000,
  /** The piece server enforces its timeouts when it checks its connections: every second, not node's default 30 s. */
  SERVER_CONNECTIONS_CHECK_MS: 1000,
  /** A client that has not sent its request head within this is dropped (slowloris). */
  SERVER_HEADERS_TIMEOUT_MS: 10_000,
  /** A request (head and body; the answer is not counted) must arrive within this. */
  SERVER_REQUEST_TIMEOUT_MS: 60_000,
  /**
   * An idle connection between two requests stays open this long, longer than
   * downloaders keep theirs (PEER_KEEP_ALIVE_MS), so the downloader closes it
   * and never sends a request into a socket the agent is closing. Node's
   * default of 5 s closed most of a crowd's connections between requests: 12
   * downloaders of 64 MiB opened 1852 TLS connections beyond their first 156.
   */
  SERVER_KEEP_ALIVE_MS: 35_000,
  /** Bytes read from disk per chunk of a response: large reads and writes cost less per byte. */
  SEND_CHUNK_BYTES: 512 * 1024,
  /** Free chunk buffers kept for the next responses (4 MiB); more are left to the garbage collector. */
  MAX_FREE_SEND_BUFFERS: 8,
  /**
   * Descriptors a folder download keeps open in its piece worker (folder/tree-files.ts): a file stays open from its
   * first write to its last, so a file cut by a piece's edge is not reopened for the piece that brings the rest; beyond
   * this many, the least recently used is closed (and reopened if more of it comes). Files wholly inside one piece are
   * closed as soon as they are written, so only the files at the edges of pieces are ever held: with 4 seeders filling
   * runs far apart, up to two per piece written ahead. Node raises its soft limit to the hard one; a lower limit is met
   * by closing half of these and trying again (tree-files.ts).
   */
  FOLDER_OPEN_FILES: 4096,
  /**
   * Descriptors of a folder download's files left open between its threads (folder/descriptors.ts): made by the
   * creator and not yet claimed by the writer (the creator waits for the writer past this many), and written whole
   * and not yet read back by the hashing thread (past this many the writer closes the file, and the hashing thread
   * opens it again). Each is lowered to an eighth of the process's open-file limit where that is lower
   * (folder/descriptor-budget.ts): an agent limited to 512 descriptors failed a folder of 5,000 files with EMFILE.
   */
  FOLDER_HANDED_FILES: Object.freeze({ made: 1024, written: 2048 }),
  /** The open-file limit taken where /proc/self/limits does not tell it (not Linux): a common soft limit, so the bounds above stay modest. */
  ASSUMED_OPEN_FILE_LIMIT: 1024,
  /** A shared folder's files checked by stat per turn of the event loop: a few milliseconds of synchronous calls (folder/scan.ts). */
  FOLDER_STAT_TURN_FILES: 256,
  /** Linux's PATH_MAX less its terminating NUL: a folder whose deepest file would not fit under its destination is refused before anything is written. */
  MAX_PATH_BYTES: 4095,
  /**
   * How many pieces are sent at once and how many requests may wait
   * (upload-slots.ts, UploadSlotsOptions says what each is): a few dozen
   * streams keep a link busy, and bounded queues make a flood of requests
   * meet 429 instead of memory growth.
   */
  UPLOAD_SLOTS: Object.freeze({
    maxStreams: 32,
    maxStreamsPerRequester: 6,
    maxQueuedPerRequester: 16,
    maxQueued: 512,
  }),
  /** A rate-limited response or download waits at most this long before it looks at its limit again (a raised limit takes effect within a second). */
  RATE_WAIT_MAX_MS: 1000,
  /**
   * A rate limit's bucket holds this many seconds of its rate: enough that a
   * timer firing late on a busy machine does not lose rate (with 50 ms the
   * limit was undershot by ~10 % under load), short enough that the limit
   * holds within a few per cent over 10 s after an idle spell (rate-limiter.ts).
   */
  RATE_BURST_SECONDS: 0.5,
  /** A rate-limited transfer moves in chunks of a tenth of a second's worth of its rate, so the limit stays smooth. */
  RATE_CHUNKS_PER_SECOND: 10,
  /** The smallest chunk a rate limit cuts a transfer into (see RATE_CHUNKS_PER_SECOND): smaller ones cost more in syscalls than they smooth. */
  RATE_MIN_CHUNK_BYTES: 16 * 1024,

  /**
   * An agent tells the downloaders watching a file what changed (pieces
   * verified, runs being sent) at most once per this many ms per file: in a
   * flash crowd a piece is verified and a request served every few ms, and
   * one event stream write per watcher for each cost a syscall here and a
   * wake-up, a parse and a picker step at every watcher. News after a quiet
   * spell still goes out at once (bench:swarm, docs/performance.md "Swarm").
   */
  SWARM_EVENT_BATCH_MS: 50,
  /** Event streams open at once on one file: a bound on what watchers can make an agent keep. */
  SWARM_WATCHERS_PER_FILE: 64,
  /** Event streams open at once on all files of the agent. */
  SWARM_WATCHERS_TOTAL: 1024,
  /** A watcher whose unsent events exceed this many bytes is too slow to follow and is dropped. */
  SWARM_MAX_BUFFERED_BYTES: 256 * 1024,
  /** How many other watchers a `peers` event names at most (as many as a download talks to, MAX_PEERS). */
  SWARM_PEERS_LISTED: 50,
  /** A new watcher beyond those limits is told to come back after this many seconds (429), and polls the bitfield meanwhile. */
  SWARM_BUSY_RETRY_S: 5,
  /** Event streams get a comment line this often, so that a downloader can tell a quiet stream from a dead one (DOWNLOAD_WATCH.idleMs). */
  SWARM_KEEP_ALIVE_MS: 15_000,
  /** A line (or an event) of a peer's event stream longer than this is an error: a hostile peer cannot make a downloader buffer without end. */
  EVENT_STREAM_MAX_LINE: 1 << 20,

  /** A peer is banned from a download after this many pieces that failed their SHA1. */
  BAN_AFTER_BAD_PIECES: 3,
  /** A peer is dropped (until the next peer list refresh) after this many failed or timed-out requests in a row. */
  DROP_AFTER_ERRORS: 3,
  /** How often a download's loop wakes up when nothing else woke it, to look at timeouts and peers. */
  DOWNLOAD_TICK_MS: 100,
  /** Pieces being filled (one per request) or checked and written by the store: memory stays bounded (12 MiB). More slots bought no speed and cost peak RSS (docs/performance.md, bench:download). */
  MAX_PIECE_BUFFERS: 24,
  /**
   * A piece is hashed on the event loop as it streams in while the piece
   * worker has at least this many pieces waiting, and by the worker otherwise:
   * whichever thread has time checks it, so on 2 cores neither one alone sets
   * the pace. A backlog threshold between 4 and 10 was fastest; 1–2 starved
   * the event loop, hashing everything there starved the worker
   * (docs/performance.md, "Hashing where there is time").
   */
  WORKER_BACKLOG_FOR_LOCAL_HASH: 6,
  /** Peers one download talks to at most (BitTorrent clients keep a few dozen connections per torrent). */
  MAX_PEERS: 50,
  /** A copy another peer said it is sending counts as on its way for at most this long (see in-transit.ts). */
  IN_TRANSIT_MS: 10_000,
  /** A download asks the tracker for fresh peers and a fresh grant this often (and sooner when nothing can be requested). */
  PEER_REFRESH_MS: 5000,
  /** When nothing can be requested, the peer list is refreshed at once unless the last refresh is younger than this. */
  NO_PROGRESS_REFRESH_MS: 1000,
  /** A busy peer (429, 503) is left alone for its Retry-After, but never longer than this many seconds: its load may drop sooner. */
  BUSY_RETRY_MAX_S: 30,
  /** A busy peer that gave no usable Retry-After is left alone this long. */
  BUSY_DEFAULT_MS: 1000,
  /** While pieces handed to the store have no outcome yet, a download looks again this often in case a wake-up was missed. */
  STORE_IDLE_POLL_MS: 1000,
  /** How long a download's end waits for its piece worker to close its files before terminating it anyway (it answers in microseconds unless stuck). */
  PIECE_WORKER_CLOSE_MS: 2000,
  /** A complete peer's event stream waits for a download's first piece, or this long at most (engine.ts, #addPeer). */
  COMPLETE_PEER_WATCH_DELAY_MS: 250,
  /**
   * How a download follows each peer's event stream: a peer that sends no
   * answer head within 2 s is hung (SIGSTOPped, overloaded) and tried again
   * later, without holding up the download; 15 s keep-alives, so 45 s of
   * silence is a dead stream; agents without a stream are polled every 5 s.
   */
  DOWNLOAD_WATCH: Object.freeze({
    firstEventMs: 2000,
    idleMs: 45_000,
    pollMs: 5000,
    retryMinMs: 1000,
    retryMaxMs: 30_000,
  }),
  /**
   * The piece picker's settings (picker.ts, PickerConfig says what each is):
   * set by bench:download and bench:swarm (docs/performance.md).
   */
  PICKER: Object.freeze({
    randomFirstPieces: 4,
    minWindow: 2,
    maxWindow: 64,
    queueSeconds: 1,
    maxRequestsPerPeer: 2,
    pipelineRoundTrips: 1.5,
    maxRunPieces: 32,
    runSeconds: 0.25,
    timeoutFactor: 4,
    minTimeoutMs: 2000,
    assumedBytesPerSecond: 1024 * 1024,
    endgameCopies: 2,
    sequentialWindow: 32,
  }),
  /** Connections a PeerConnection opens for requests when its caller does not say (a download passes PICKER.maxRequestsPerPeer). */
  PEER_CONNECTIONS: 4,
  /** A peer's measured throughput and latency move this far toward each new request's figures (an exponentially weighted average): a few requests follow a change of speed, one slow request does not. */
  PEER_MEASURE_WEIGHT: 0.3,
  /** A bitfield answer larger than this is not a bitfield. */
  PEER_MAX_JSON_BYTES: 4 << 20,
  /** A peer that does not accept a connection within this is taken as down for this round. */
  PEER_CONNECT_TIMEOUT_MS: 3000,
  /** A response that sends nothing for this long is dead (the picker's rate-based timeout usually acts first). */
  PEER_IDLE_TIMEOUT_MS: 10_000,
  /** Connections to a peer stay open between requests this long: a download asks the same peers again and again. */
  PEER_KEEP_ALIVE_MS: 30_000,
  /**
   * Bytes of the arena each download connection reads into (read-arena.ts),
   * 256 KiB as the 4 × 64 KiB ring it replaced: a pool closes idle
   * connections after its keep-alive timeout.
   */
  READ_ARENA_BYTES: 256 * 1024,
  /** A read is offered at most this much of the arena: what one read returns on loopback. */
  READ_MAX_WINDOW_BYTES: 64 * 1024,
  /** A free window smaller than this is not offered (one TLS record is up to 16 KiB); the read gets a fresh buffer. */
  READ_MIN_WINDOW_BYTES: 16 * 1024,
  /** How far back a download's shown speed looks: long enough to smooth pieces arriving in bursts, short enough to reach 0 soon after a stall. */
  RATE_WINDOW_MS: 5_000,
  /** The speed's time buckets (see RATE_WINDOW_MS): fine enough that the window slides smoothly, 20 numbers per download. */
  RATE_BUCKET_MS: 250,
  /**
   * The piece worker reads back and hashes at most this many pieces written
   * ahead of the whole-file SHA1's prefix per turn (4 MiB at 512 KiB), so a
   * piece that fills a gap in the prefix never keeps the pieces queued behind
   * it waiting for a catch-up of hundreds of MiB (piece-worker.ts). A file's
   * only: a folder's SHA1 has a thread of its own (folder/stream-hash.ts).
   */
  PREFIX_CATCH_UP_PIECES: 8,

  /** The state file is written at most this often: a burst of changes (pieces verified, shares) costs one write. */
  STATE_SAVE_DELAY_MS: 250,
  /** The control endpoint's largest request body: its commands are a few names and paths. */
  CONTROL_MAX_BODY_BYTES: 64 * 1024,
  /** `stop` waits this long for the agent's process to exit (it logs out and stops downloads first) before saying it is still running. */
  STOP_WAIT_MS: 20_000,
  /** How often `stop` looks whether the agent's process is gone. */
  STOP_POLL_MS: 50,
});
