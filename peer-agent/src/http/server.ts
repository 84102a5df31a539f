import { close, fstat, open, stat } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { TLS_SERVER_OPTIONS } from "../tls/tls-options.js";
import { AppError, Codes, ConflictError, MethodNotAllowedError, NotFoundError, RangeNotSatisfiableError, ValidationError } from "../../../core/errors.js";
import { ifRangeHolds, parseRange, type Validators } from "../../../core/range.js";
import { isCertFingerprint, isIdentifier, isPeerAddress, isSha1Hex } from "../../../core/validation.js";
import { sendProblem } from "./problem.js";
import { sendRange } from "./send-range.js";
import { folderReadAt } from "../folder/read.js";
import { SwarmEvents } from "./swarm-events.js";
import { UploadSlots, type UploadSlotsOptions } from "./upload-slots.js";
import type { RateLimiter } from "../rate-limiter.js";
import type { GrantCheck, ServedFile, ServedFiles } from "./served-file.js";
import { AGENT } from "../config.js";

const FILE_ROUTE = /^\/groups\/([^/]+)\/files\/([^/]+?)(?:\/(bitfield|events))?$/;
/** The methods each resource answers; any other is a 405 with this list in `Allow`. */
const ALLOWED = { bytes: ["GET", "HEAD"], bitfield: ["GET", "HEAD"], events: ["GET"] } as const;
/** A watcher of a file's events names the address its own agent serves on, for peer exchange. */
const PEER_ADDRESS_HEADER = "p2p-peer-address";
const PEER_CERT_HEADER = "p2p-peer-cert";

export interface PeerServerOptions {
  files: ServedFiles;
  checkGrant: GrantCheck;
  /** Throws when a grant that passed checkGrant (cached) no longer stands; asked on every request. */
  grantStands?: (token: string) => Promise<void>;
  /** Slow-loris protection: the whole request head must arrive within this. */
  headersTimeoutMs?: number;
  /** How upload streams are shared between requesters (grant subjects); see upload-slots.ts. */
  uploadSlots?: Partial<UploadSlotsOptions>;
  /** Where verified pieces and runs being sent are announced to the file's watchers; the server makes its own when absent. */
  events?: SwarmEvents;
  /** The agent's upload limit, shared by every response; a limit of 0 refuses bytes (leech only). */
  uploadLimit?: RateLimiter;
  /** Serve over TLS with this key and self-signed certificate (pinned by downloaders through the tracker); absent: plain HTTP. */
  tls?: { keyPem: string; certPem: string };
  /** Told when a shared file is found changed on disk since it was hashed (ServedFile.asHashed); it is no longer served. */
  onChangedOnDisk?: (file: ServedFile) => void;
}

interface Context {
  options: PeerServerOptions;
  checkGrant: GrantCheck;
  slots: UploadSlots;
  files: OpenFiles;
  events: SwarmEvents;
}

/**
 * The agent's public HTTP surface: a file's bitfield and its bytes by Range,
 * only for verified pieces of files shared in the grant's group. Bytes are
 * streamed from disk; upload streams are shared fairly between requesters
 * (upload-slots.ts), so one greedy downloader cannot starve the others.
 */
export function createPeerServer(options: PeerServerOptions): Server {
  const context: Context = {
    options,
    checkGrant: cachedGrantCheck(options.checkGrant),
    slots: new UploadSlots(options.uploadSlots),
    files: new OpenFiles(),
    events: options.events ?? new SwarmEvents(),
  };
  // Timeouts are enforced when connections are checked: every second, not node's default 30 s.
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res, context).catch((error: unknown) => sendProblem(res, error));
  };
  const server: Server = options.tls
    ? createHttpsServer({ connectionsCheckingInterval: AGENT.SERVER_CONNECTIONS_CHECK_MS, key: options.tls.keyPem, cert: options.tls.certPem, ...TLS_SERVER_OPTIONS }, onRequest)
    : createServer({ connectionsCheckingInterval: AGENT.SERVER_CONNECTIONS_CHECK_MS }, onRequest);
  server.headersTimeout = options.headersTimeoutMs ?? AGENT.SERVER_HEADERS_TIMEOUT_MS;
  server.requestTimeout = AGENT.SERVER_REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = AGENT.SERVER_KEEP_ALIVE_MS;
  server.on("close", () => {
    context.files.closeAll();
    if (!options.events) context.events.close();
  });
  return server;
}

async function handle(req: IncomingMessage, res: ServerResponse, context: Context): Promise<void> {
  const { options } = context;
  const url = new URL(req.url ?? "/", "http://agent");
  const match = FILE_ROUTE.exec(url.pathname);
  if (!match) throw new NotFoundError(`no route ${req.method} ${url.pathname}`, Codes.ROUTE_NOT_FOUND);
  const resource = match[3] === "bitfield" || match[3] === "events" ? match[3] : "bytes";
  const allowed: readonly string[] = ALLOWED[resource];
  if (!allowed.includes(req.method ?? "")) throw new MethodNotAllowedError(req.method ?? "", allowed);
  const groupId = decodeSegment(match[1]!);
  const sha1 = decodeSegment(match[2]!);
  if (!isIdentifier(groupId) || !isSha1Hex(sha1)) throw new NotFoundError("no such file", Codes.FILE_NOT_SHARED);

  const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
  const requester = await context.checkGrant(bearer, { groupId, sha1 });
  // Not cached like the signature: a grant stops standing when its holder leaves or logs out.
  await options.grantStands?.(bearer!);
  // The requester gave up while its grant was checked (a downloader's request timed out): nothing is taken for it.
  // A 'close' that has already been emitted never fires again, so an upload slot or a watch taken now would be held forever.
  if (res.closed) return;
  const file = options.files.find(groupId, sha1);
  if (!file) throw new NotFoundError("this peer does not share that file in that group", Codes.FILE_NOT_SHARED);

  if (resource === "bitfield") return sendBitfield(res, file);
  if (resource === "events") {
    const address = req.headers[PEER_ADDRESS_HEADER];
    const cert = req.headers[PEER_CERT_HEADER];
    const watcher = {
      userId: requester,
      address: isPeerAddress(address) ? address : undefined,
      ...(isCertFingerprint(cert) ? { certSha256: cert } : {}),
      until: grantExpiry(bearer),
    };
    context.events.watch(file, watcher, res);
    return;
  }
  if (options.uploadLimit?.blocked) {
    throw new AppError(503, Codes.UPLOAD_OFF, "this peer does not upload now (its upload limit is 0)", { retryAfterSeconds: AGENT.UPLOAD_OFF_RETRY_SECONDS });
  }
  const slot = await context.slots.acquire(requester, (cancel) => res.once("close", cancel));
  if (!slot) return; // the requester gave up while it waited
  if (res.closed) return slot.release(); // ... or as its turn came
  res.once("close", slot.release);
  const current = options.files.find(groupId, sha1);
  if (!current) throw new NotFoundError("this peer stopped sharing that file", Codes.FILE_NOT_SHARED);
  return sendBytes(req, res, current, context, requester, slot.mayPump);
}

/** A path segment, percent-decoded; a malformed escape (`%ZZ`, a truncated UTF-8 sequence) is the client's error. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ValidationError(`the path segment "${segment.slice(0, 100)}" is not valid percent-encoded UTF-8`, Codes.BAD_PERCENT_ENCODING);
  }
}

function sendBitfield(res: ServerResponse, file: ServedFile): void {
  const body = JSON.stringify({
    sha1: file.sha1,
    pieceCount: file.verified.size,
    piecesHeld: file.verified.count,
    bitfield: file.verified.toBase64(),
  });
  res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
  res.end(body);
}

/**
 * Answers GET/HEAD of a file's bytes as an RFC 9110 range server: ETag (the
 * file's SHA1, a strong validator: the bytes named by it never change) and
 * Last-Modified on every answer; one byte range (unit name in any case) is a
 * 206; a Range in another unit, several ranges, or one whose If-Range does
 * not hold is ignored and the whole file sent (200). A peer that holds only
 * some pieces cannot send the whole file: that answer is a 409 FILE_INCOMPLETE
 * problem that says to ask for a range inside the bitfield instead.
 */
async function sendBytes(
  req: IncomingMessage,
  res: ServerResponse,
  file: ServedFile,
  context: Context,
  requester: string,
  mayPump: () => Promise<void> | undefined,
): Promise<void> {
  const validators = await validatorsOf(file);
  const header = req.headers.range;
  const range = header !== undefined && ifRangeHolds(req.headers["if-range"] as string | undefined, validators) ? parseRange(header, file.size) : undefined;
  const start = range?.start ?? 0;
  const end = range?.end ?? file.size - 1;
  if (file.size > 0 && !piecesVerified(file, start, end)) {
    if (range === undefined) {
      throw new ConflictError(
        `this peer holds ${file.verified.count} of ${file.verified.size} pieces, not the whole file; ` +
          "ask for one byte range inside the pieces it holds (see the bitfield)" +
          (header !== undefined ? " (the Range header was ignored: another unit, several ranges, or an If-Range that does not match)" : ""),
        Codes.FILE_INCOMPLETE,
      );
    }
    throw new RangeNotSatisfiableError("the range covers pieces this peer has not verified yet", Codes.PIECES_NOT_HELD, {
      size: file.size,
    });
  }
  const length = file.size === 0 ? 0 : end - start + 1;
  // A file's bytes come from one descriptor, checked against the file as it was hashed before anything is answered.
  const opened = file.folder || length === 0 || req.method === "HEAD" ? undefined : await acquireAsHashed(file, context);
  const headers: Record<string, string | number> = {
    "content-type": "application/octet-stream",
    "content-length": length,
    "accept-ranges": "bytes",
    etag: validators.etag,
  };
  if (validators.lastModified) headers["last-modified"] = validators.lastModified;
  if (range) headers["content-range"] = `bytes ${start}-${end}/${file.size}`;
  res.writeHead(range ? 206 : 200, headers);
  if (req.method === "HEAD" || length === 0) {
    res.end();
    return;
  }
  const sending = () => context.events.sending(file.groupId, file.sha1, Math.floor(start / file.pieceSize), Math.floor(end / file.pieceSize), requester);
  if (file.folder) {
    // A folder's stream is read across its files, each opened per read (folder/read.ts): no descriptor to hold.
    sending();
    const asHashed = file.asHashed && { mtimeMs: file.asHashed.mtimeMs, changed: () => context.options.onChangedOnDisk?.(file) };
    sendRange(-1, start, end, res, () => {}, { mayPump, limiter: context.options.uploadLimit, readAt: folderReadAt(file.path, file.folder, asHashed) });
    return;
  }
  if (res.destroyed || !opened) return opened?.release();
  sending();
  sendRange(opened.fd, start, end, res, opened.release, { mayPump, limiter: context.options.uploadLimit });
}

/**
 * The served file's descriptor, once it is known to hold what was hashed: a
 * shared file changed or gone on disk is refused with 404 and reported
 * (onChangedOnDisk), so downloaders drop this peer for that file instead of
 * banning it for pieces that fail their SHA1.
 */
async function acquireAsHashed(file: ServedFile, context: Context): Promise<{ fd: number; release: () => void }> {
  const gone = () => {
    context.options.onChangedOnDisk?.(file);
    return new NotFoundError("this peer stopped sharing that file: it changed on disk since it was shared", Codes.FILE_NOT_SHARED);
  };
  let opened: { fd: number; release: () => void };
  try {
    opened = await context.files.acquire(file.path);
  } catch (error) {
    if (file.asHashed && (error as NodeJS.ErrnoException).code === "ENOENT") throw gone();
    throw error;
  }
  if (file.asHashed && !(await context.files.asHashed(file.path, opened.fd, file.asHashed))) {
    opened.release();
    throw gone();
  }
  return opened;
}

/**
 * Each served file's validators, worked out on its first request and kept
 * with it, so a request costs no stat. The entity tag is the SHA1 the file is
 * addressed by; Last-Modified is the file's modification time on disk when it
 * was first served (never in the future), left out when it cannot be read.
 */
const validatorsCache = new WeakMap<ServedFile, Validators | Promise<Validators>>();

function validatorsOf(file: ServedFile): Validators | Promise<Validators> {
  const known = validatorsCache.get(file);
  if (known) return known;
  const etag = `"${file.sha1}"`;
  const pending = new Promise<Validators>((resolve) => {
    stat(file.path, (error, stats) => {
      const validators: Validators = error ? { etag } : { etag, lastModified: new Date(Math.min(stats.mtimeMs, Date.now())).toUTCString() };
      validatorsCache.set(file, validators);
      resolve(validators);
    });
  });
  validatorsCache.set(file, pending);
  return pending;
}

function piecesVerified(file: ServedFile, start: number, end: number): boolean {
  const first = Math.floor(start / file.pieceSize);
  const last = Math.floor(end / file.pieceSize);
  for (let piece = first; piece <= last; piece++) if (!file.verified.has(piece)) return false;
  return true;
}


/**
 * Caches successful grant checks: a downloader presents the same grant on
 * every Range request, and verifying an Ed25519 signature each time costs
 * more than serving a small range. Entries never outlive the grant's `exp`.
 */
function cachedGrantCheck(check: GrantCheck): GrantCheck {
  const cache = new Map<string, { requester: string; until: number }>();
  /** Checks under way: a downloader's first requests all come at once, and one check answers them all. */
  const checking = new Map<string, Promise<string>>();
  return async (token, expected) => {
    const key = `${expected.groupId}/${expected.sha1}/${token ?? ""}`;
    const hit = cache.get(key);
    if (hit && hit.until > Date.now()) return hit.requester;
    cache.delete(key);
    let pending = checking.get(key);
    if (!pending) {
      pending = check(token, expected).finally(() => checking.delete(key));
      checking.set(key, pending);
    }
    const requester = await pending;
    const expiresAt = grantExpiry(token);
    if (expiresAt !== undefined) {
      if (cache.size >= AGENT.GRANT_CACHE_ENTRIES) cache.clear();
      cache.set(key, { requester, until: Math.min(Date.now() + AGENT.GRANT_CACHE_MS, expiresAt) });
    }
    return requester;
  };
}

/** The `exp` of a JWT already verified, in ms; undefined when it has none. */
function grantExpiry(token: string | undefined): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token?.split(".")[1] ?? "", "base64url").toString("utf8")) as { exp?: unknown };
    return typeof payload.exp === "number" ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Shared files kept open while they are being served: one open per file
 * instead of one per Range request. Positional reads make one descriptor safe
 * for concurrent streams; it is closed after a few idle seconds.
 */
class OpenFiles {
  readonly #files = new Map<string, { fd: Promise<number>; users: number; timer?: NodeJS.Timeout }>();
  /** The last comparison of each open file with its size and time when hashed (see asHashed). */
  readonly #compared = new Map<string, { at: number; size: number; mtimeMs: number; same: Promise<boolean> }>();

  /**
   * Whether the file open as `fd` still has the size and modification time it
   * was hashed with; read from the descriptor at most once per
   * SHARED_FILE_CHECK_MS, so a request costs no syscall of its own.
   */
  asHashed(path: string, fd: number, expected: { size: number; mtimeMs: number }): Promise<boolean> {
    const known = this.#compared.get(path);
    const fresh = known && Date.now() - known.at < AGENT.SHARED_FILE_CHECK_MS;
    // The same file shared twice (two groups, two times) is compared with what each share was hashed with.
    if (fresh && known.size === expected.size && known.mtimeMs === expected.mtimeMs) return known.same;
    const same = new Promise<boolean>((resolve) =>
      fstat(fd, (error, stats) => resolve(!error && stats.size === expected.size && stats.mtimeMs === expected.mtimeMs)),
    );
    this.#compared.set(path, { at: Date.now(), ...expected, same });
    return same;
  }

  async acquire(path: string): Promise<{ fd: number; release: () => void }> {
    let entry = this.#files.get(path);
    if (!entry) {
      const fd = new Promise<number>((resolve, reject) => open(path, "r", (error, fd) => (error ? reject(error) : resolve(fd))));
      this.#files.set(path, (entry = { fd, users: 0 }));
      fd.catch(() => this.#files.delete(path));
    }
    const current = entry;
    current.users++;
    clearTimeout(current.timer);
    let fd: number;
    try {
      fd = await current.fd;
    } catch (error) {
      current.users--;
      throw error;
    }
    let released = false;
    return {
      fd,
      release: () => {
        if (released) return;
        released = true;
        if (--current.users > 0) return;
        current.timer = setTimeout(() => {
          if (current.users > 0 || this.#files.get(path) !== current) return;
          this.#files.delete(path);
          this.#compared.delete(path);
          close(fd, () => {});
        }, AGENT.OPEN_FILE_IDLE_MS);
        current.timer.unref();
      },
    };
  }

  closeAll(): void {
    this.#compared.clear();
    for (const [path, entry] of this.#files) {
      clearTimeout(entry.timer);
      this.#files.delete(path);
      void entry.fd.then((fd) => close(fd, () => {}), () => undefined);
    }
  }
}
