/**
 * One error class per kind of failure, each with an HTTP status and a stable
 * machine-readable `code`. Callers branch on `code`, never on the message.
 * The trackers and the peer agent turn these into RFC 9457 problem+json in one
 * place each; the CLI turns them into a single `error:` line.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  /** Extra members for the problem document (e.g. field errors). */
  readonly extra: Record<string, unknown> | undefined;

  constructor(status: number, code: string, message: string, extra?: Record<string, unknown>) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.extra = extra;
  }
}

/** The request is malformed or breaks a validation rule. */
export class ValidationError extends AppError {
  constructor(message: string, code: string = Codes.VALIDATION_FAILED, extra?: Record<string, unknown>) {
    super(400, code, message, extra);
  }
}

/** No credentials, or credentials that are forged, expired or revoked. */
export class UnauthorizedError extends AppError {
  constructor(message = "authentication required", code: string = Codes.UNAUTHENTICATED) {
    super(401, code, message);
  }
}

/** The resource exists but does not answer this method; `allow` lists the ones it does (sent as the `Allow` header). */
export class MethodNotAllowedError extends AppError {
  readonly allow: string;
  constructor(method: string, allow: readonly string[]) {
    const list = allow.join(", ");
    super(405, Codes.METHOD_NOT_ALLOWED, `${method} is not allowed here; this resource answers ${list}`, { allow: list });
    this.allow = list;
  }
}

/** Authenticated, but not allowed: not the owner, not a member, wrong grant. */
export class ForbiddenError extends AppError {
  constructor(message: string, code: string = Codes.FORBIDDEN) {
    super(403, code, message);
  }
}

/** The addressed resource does not exist (or is not visible to the caller). */
export class NotFoundError extends AppError {
  constructor(message: string, code: string = Codes.NOT_FOUND) {
    super(404, code, message);
  }
}

/** The change clashes with existing state (duplicate id, different content). */
export class ConflictError extends AppError {
  constructor(message: string, code: string = Codes.CONFLICT) {
    super(409, code, message);
  }
}

/** The request body is larger than the server accepts. */
export class PayloadTooLargeError extends AppError {
  constructor(message = "request body too large", code: string = Codes.PAYLOAD_TOO_LARGE) {
    super(413, code, message);
  }
}

/** A byte range outside the representation, or not parseable as one. */
export class RangeNotSatisfiableError extends AppError {
  constructor(message: string, code: string = Codes.RANGE_NOT_SATISFIABLE, extra?: Record<string, unknown>) {
    super(416, code, message, extra);
  }
}

/** The caller is throttled; `retryAfterSeconds` says when to come back. */
export class TooManyRequestsError extends AppError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number, code: string = Codes.TOO_MANY_REQUESTS) {
    super(429, code, message, { retryAfterSeconds });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A dependency (another tracker, a peer, the database) cannot serve now. */
export class UnavailableError extends AppError {
  /** When the caller may try again, if known (sent as Retry-After). */
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, code: string = Codes.UNAVAILABLE, retryAfterSeconds?: number) {
    super(503, code, message, retryAfterSeconds === undefined ? undefined : { retryAfterSeconds });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Not enough disk space to store what was asked for. */
export class InsufficientStorageError extends AppError {
  constructor(message: string, code: string = Codes.DISK_FULL) {
    super(507, code, message);
  }
}

/** A download's whole file did not match its SHA1 although every piece did: the sharer's file changed. */
export class FileChecksumError extends AppError {
  constructor(message: string) {
    super(502, Codes.FILE_CHECKSUM_MISMATCH, message);
  }
}

/** No reachable peer holds some piece of a download. */
export class NoSourceError extends AppError {
  constructor(message: string) {
    super(503, Codes.NO_PEER_HAS_PIECE, message);
  }
}

/**
 * The registry of error codes: each code once, with its HTTP status and when
 * it happens. Every thrower and every checker uses `Codes.X`, never the
 * string (core/test/codes.test.ts fails on a code string anywhere else, or
 * on an entry nobody uses); only the tracker's OpenAPI examples
 * (tracker-api/src/http/problem.ts) spell codes out, as tsoa reads examples
 * from literals. The values are on the wire (the problem+json `code` of the
 * trackers, of the agent's piece server and of its control endpoint; the
 * announce's `rejected[].code`) and never change. "never sent":
 * raised and handled inside a program, or printed by the CLI as its
 * `error:` line. A response that is not a problem document is read as code
 * `HTTP_<status>` (fromProblem). Node's (`EADDRINUSE`), undici's
 * (`UND_ERR_*`) and Prisma's (`P2025`) codes are theirs, not listed.
 */
export const Codes = Object.freeze({
  /** 403: a per-user quota (groups owned, files shared, join requests pending; TRACKER.QUOTAS) is reached. 403, not 429: a quota is not a rate, waiting does not lift it. */
  QUOTA_EXCEEDED: "QUOTA_EXCEEDED",
  /** 400: a path segment is not valid percent-encoding of UTF-8 (`%ZZ`, a truncated `%E0%A4%A`). */
  BAD_PERCENT_ENCODING: "BAD_PERCENT_ENCODING",
  /** 400: a file name that is not a safe base name: a path, `.`/`..`, too many UTF-8 bytes for a filesystem with `.part`, or a control or bidi character (core/validation.ts says which). */
  BAD_FILE_NAME: "BAD_FILE_NAME",
  /** 400: a folder's manifest that cannot be recreated safely or does not add up: an unsafe path (`..`, absolute, a control or bidi character, too long), two paths that collide, a file that is also a directory, sizes that do not sum to the size (core/manifest.ts says which). */
  BAD_MANIFEST: "BAD_MANIFEST",
  /** 404: the manifest of a shared item that is a plain file, not a folder. */
  NOT_A_FOLDER: "NOT_A_FOLDER",
  /** 404: no route has this path. */
  ROUTE_NOT_FOUND: "ROUTE_NOT_FOUND",
  /** 405: the path exists but not with this method (the answer's `Allow` lists those it has). */
  METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
  /** 409: the whole file was asked of a peer that holds only some of its pieces (no Range, or one it must ignore). */
  FILE_INCOMPLETE: "FILE_INCOMPLETE",
  /** 416: the range touches pieces this peer has not verified. */
  PIECES_NOT_HELD: "PIECES_NOT_HELD",
  /** 400: a JSON body nested deeper than the tracker accepts (refused before parsing: deep nesting only attacks recursive code). */
  JSON_TOO_DEEP: "JSON_TOO_DEEP",
  /** 400: a transfer rate that is not a number with an optional K/M/G unit, or `unlimited` (set_rate, --max-*-rate); or a download limit of 0. */
  BAD_RATE: "BAD_RATE",
  /** 503: this agent's upload limit is 0 (leech only); Retry-After says when to ask again. */
  UPLOAD_OFF: "UPLOAD_OFF",
  /** 500: the agent's state file is unreadable and no good copy of it is left; names the file and what is lost. */
  STATE_UNRECOVERABLE: "STATE_UNRECOVERABLE",
  /** 403: a password change whose current password is wrong (403, not 401: the session itself is fine). */
  WRONG_PASSWORD: "WRONG_PASSWORD",
  /** 403 (agent): a grant whose session ended (logout, password change) or whose user left or was removed from the group; a member asks the tracker for a fresh one. */
  GRANT_REVOKED: "GRANT_REVOKED",
  /** 502 (a connection failure, never sent): a peer agent presented a TLS certificate other than the one its user registered with the tracker; nothing is sent to it. */
  PEER_CERT_MISMATCH: "PEER_CERT_MISMATCH",
  /** 429 (tracker): more /health calls wait for their turn than the tracker keeps in line (TRACKER.HEALTH_PACE); Retry-After says when to ask again. */
  HEALTH_BUSY: "HEALTH_BUSY",
  /** 400: a password would travel in plain HTTP to a tracker that is not on this machine (an `http://` or `ip:port` entry); `--insecure` allows it. */
  INSECURE_TRACKER: "INSECURE_TRACKER",

  // The defaults of the classes above, for a failure with nothing more specific to say.
  /** 400: the request does not match the API (tracker: `errors` names each field and what is wrong with it); ValidationError's default. */
  VALIDATION_FAILED: "VALIDATION_FAILED",
  /** 401: no bearer token: log in first; UnauthorizedError's default. */
  UNAUTHENTICATED: "UNAUTHENTICATED",
  /** 403: ForbiddenError's default. */
  FORBIDDEN: "FORBIDDEN",
  /** 404: NotFoundError's default. */
  NOT_FOUND: "NOT_FOUND",
  /** 409: ConflictError's default. */
  CONFLICT: "CONFLICT",
  /** 413: a request body larger than accepted (TRACKER.BODY_LIMIT, AGENT.CONTROL_MAX_BODY_BYTES). */
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  /** 416: RangeNotSatisfiableError's default. */
  RANGE_NOT_SATISFIABLE: "RANGE_NOT_SATISFIABLE",
  /** 429: TooManyRequestsError's default. */
  TOO_MANY_REQUESTS: "TOO_MANY_REQUESTS",
  /** 503: UnavailableError's default. */
  UNAVAILABLE: "UNAVAILABLE",
  /** 507: not enough free disk space for a download's file (reserved up front); InsufficientStorageError's default. */
  DISK_FULL: "DISK_FULL",
  /** 500: a failure nobody expected; the answer reveals nothing, the log has it. */
  INTERNAL: "INTERNAL",
  /** 400: a request body that is not valid JSON. */
  MALFORMED_JSON: "MALFORMED_JSON",

  // Tracker: accounts and sessions.
  /** 401: a login with a user id or password that does not match (the same answer for both, so user ids cannot be probed). */
  BAD_CREDENTIALS: "BAD_CREDENTIALS",
  /** 401: a token whose session expired, was logged out or ended by a password change: log in again. */
  SESSION_INVALID: "SESSION_INVALID",
  /** 429: too many failed logins for this account or address (TRACKER.LOGIN_THROTTLE); `retryAfterSeconds` says when to try again. */
  LOGIN_THROTTLED: "LOGIN_THROTTLED",
  /** 409: a user id that is taken. */
  USER_EXISTS: "USER_EXISTS",

  // Tracker: groups and join requests.
  /** 404: a group that does not exist. */
  GROUP_NOT_FOUND: "GROUP_NOT_FOUND",
  /** 409: a group id that is taken. */
  GROUP_EXISTS: "GROUP_EXISTS",
  /** 403: only the group's owner may do this (accept, reject, list requests). */
  NOT_OWNER: "NOT_OWNER",
  /** 403: the caller (or the user named) is not a member of the group; also an announce's `rejected[].code` for a holding in a group its user left. */
  NOT_MEMBER: "NOT_MEMBER",
  /** 403: removing another member, which only the owner may do (anyone may remove themselves). */
  NOT_SELF: "NOT_SELF",
  /** 409: a join request from someone who is a member already. */
  ALREADY_MEMBER: "ALREADY_MEMBER",
  /** 409: a join request while the caller's earlier one is still pending. */
  REQUEST_PENDING: "REQUEST_PENDING",
  /** 404: accepting or rejecting a join request that is not pending. */
  REQUEST_NOT_FOUND: "REQUEST_NOT_FOUND",

  // Tracker: files and holdings.
  /** 409: a share under a name the group already has for different content. */
  FILE_NAME_TAKEN: "FILE_NAME_TAKEN",
  /** 404: stop_share of a file the caller does not share in that group. */
  NOT_SHARING: "NOT_SHARING",
  /** 404: a file not shared in the group; also an announce's `rejected[].code` for a holding of a file no longer shared there. */
  FILE_NOT_FOUND: "FILE_NOT_FOUND",
  /** 400: a share whose pieceSize is not PIECE_SIZE. */
  BAD_PIECE_SIZE: "BAD_PIECE_SIZE",
  /** 400: a share whose number of piece hashes does not fit its size. */
  PIECE_COUNT_MISMATCH: "PIECE_COUNT_MISMATCH",
  /** (announce `rejected[].code`, no status): the holding's SHA1 is not that of the file shared under its name. */
  SHA1_MISMATCH: "SHA1_MISMATCH",
  /** (announce `rejected[].code`, no status): the holding claims more pieces than the file has. */
  TOO_MANY_PIECES: "TOO_MANY_PIECES",

  // Tracker: lists, retries, replication.
  /** 400: a page cursor this tracker did not give out, or one of another list. */
  INVALID_CURSOR: "INVALID_CURSOR",
  /** 400: an Idempotency-Key that is not 1-255 visible ASCII characters. */
  BAD_IDEMPOTENCY_KEY: "BAD_IDEMPOTENCY_KEY",
  /** 422: an Idempotency-Key sent before with a different request (or an account retried with another password). */
  IDEMPOTENCY_KEY_REUSED: "IDEMPOTENCY_KEY_REUSED",
  /** 500: a write whose transaction failed to commit: nothing was changed, retrying is safe. */
  WRITE_NOT_SAVED: "WRITE_NOT_SAVED",
  /** 503: a tracker on a new database still pulling back what the others have (TRACKER.RECOVERY_WAIT_MS); Retry-After, or another tracker. */
  TRACKER_RECOVERING: "TRACKER_RECOVERING",
  /** 503: replication cut by the test switch (P2P_TEST_SWITCHES=1 only). */
  REPLICATION_BLOCKED: "REPLICATION_BLOCKED",
  /** 503 (never sent): another tracker refused a push or pull; retried with backoff. */
  REPLICATION_REFUSED: "REPLICATION_REFUSED",
  /** 400: a replicated event that is not one (missing or mistyped fields). */
  BAD_REPLICATION_EVENT: "BAD_REPLICATION_EVENT",
  /** 400: a pull without origin, after and limit. */
  BAD_REPLICATION_QUERY: "BAD_REPLICATION_QUERY",
  /** 400: a push or login-attempts batch not of the expected shape or size. */
  BAD_REPLICATION_BATCH: "BAD_REPLICATION_BATCH",
  /** 401: a replication request without a signature. */
  REPLICATION_UNSIGNED: "REPLICATION_UNSIGNED",
  /** 401: a replication request whose signature does not match (another cluster secret). */
  REPLICATION_BAD_SIGNATURE: "REPLICATION_BAD_SIGNATURE",
  /** 401: a replication request older (or further in the future) than TRACKER.SIGNATURE_WINDOW_MS. */
  REPLICATION_STALE: "REPLICATION_STALE",
  /** 401: a replication delivery received before (a replay). */
  REPLICATION_REPLAYED: "REPLICATION_REPLAYED",
  /** 400 (at start, never sent): a cluster secret shorter than 16 characters. */
  WEAK_CLUSTER_SECRET: "WEAK_CLUSTER_SECRET",
  /** 400 (at start, never sent): a tracker off loopback without a cluster secret of its own (the demo one is public). */
  CLUSTER_SECRET_REQUIRED: "CLUSTER_SECRET_REQUIRED",

  // Download grants (signed by a tracker, checked by the agent serving pieces).
  /** 401: a piece request without a grant. */
  GRANT_MISSING: "GRANT_MISSING",
  /** 401: a grant past its expiry: the downloader asks the tracker for a fresh one. */
  GRANT_EXPIRED: "GRANT_EXPIRED",
  /** 401: a grant signed by a key no tracker lists (the agent fetches the keys again first). */
  GRANT_UNKNOWN_KEY: "GRANT_UNKNOWN_KEY",
  /** 401: a grant that is not a valid token, lacks user, group or file, or is bound to no session. */
  GRANT_INVALID: "GRANT_INVALID",
  /** 403: a grant for another group or file than the one asked for. */
  GRANT_WRONG_FILE: "GRANT_WRONG_FILE",

  // Peer agent: the piece server.
  /** 404: a file this agent does not share (or no longer does) in that group. */
  FILE_NOT_SHARED: "FILE_NOT_SHARED",
  /** 416: a Range header that is not `bytes=first-last` with numbers in order. */
  MALFORMED_RANGE: "MALFORMED_RANGE",
  /** 416: a range starting past the end of the file, or an empty suffix range. */
  RANGE_PAST_END: "RANGE_PAST_END",
  /** 429: too many requests or event streams at once (AGENT.UPLOAD_SLOTS, AGENT.SWARM_WATCHERS_*); Retry-After says when to ask again. */
  PEER_BUSY: "PEER_BUSY",

  // Peer agent: commands (through the CLI or the control endpoint).
  /** 401: a control request without the token of control.json. */
  CONTROL_TOKEN: "CONTROL_TOKEN",
  /** 400: an argument of a command that is not valid (an id, a name, a direction, a download order), or a control call with the wrong arguments. */
  BAD_ARGUMENT: "BAD_ARGUMENT",
  /** 401: a command that needs a login, before one. */
  NOT_LOGGED_IN: "NOT_LOGGED_IN",
  /** 409: login while a user is logged in on this agent. */
  ALREADY_LOGGED_IN: "ALREADY_LOGGED_IN",
  /** 400: upload_file of a path that is not a readable file. */
  NOT_A_FILE: "NOT_A_FILE",
  /** 400: upload_file of a folder holding an entry that cannot be shared: a symlink out of the folder or to a directory, a device, a socket or FIFO, or a name another filesystem cannot hold. */
  UNSHAREABLE_ENTRY: "UNSHAREABLE_ENTRY",
  /** 409: a file that changed while it was being hashed. */
  FILE_CHANGED: "FILE_CHANGED",
  /** 409: upload_file of a name this user already shares in the group. */
  ALREADY_SHARED: "ALREADY_SHARED",
  /** 409: a download of a file that is downloading already, or sharing a file being downloaded. */
  DOWNLOAD_RUNNING: "DOWNLOAD_RUNNING",
  /** 409: a download's destination (or its .part) exists; nothing is ever overwritten. */
  DESTINATION_EXISTS: "DESTINATION_EXISTS",
  /** 400: a destination in a directory that does not exist. */
  NO_SUCH_DIRECTORY: "NO_SUCH_DIRECTORY",
  /** 400: a file name from the tracker that is not safe to create (a path, `..`, a control character). */
  UNSAFE_FILE_NAME: "UNSAFE_FILE_NAME",
  /** 503: no peer holding the file is online now. */
  NO_PEER_ONLINE: "NO_PEER_ONLINE",
  /** 404: a download this agent does not know (pause, resume, cancel). */
  DOWNLOAD_NOT_FOUND: "DOWNLOAD_NOT_FOUND",
  /** 409: pausing a download that is not running. */
  DOWNLOAD_NOT_RUNNING: "DOWNLOAD_NOT_RUNNING",
  /** 500: a download that failed for an unexpected reason (the message says which). */
  DOWNLOAD_FAILED: "DOWNLOAD_FAILED",
  /** 409: another running agent uses this state directory. */
  STATE_DIR_IN_USE: "STATE_DIR_IN_USE",
  /** 503: no agent runs with this state directory or address. */
  AGENT_NOT_RUNNING: "AGENT_NOT_RUNNING",
  /** 503 (at start, never sent): the agent's address is in use. */
  ADDRESS_IN_USE: "ADDRESS_IN_USE",
  /** 503 (at start, never sent): the agent's address is not one of this machine. */
  ADDRESS_NOT_AVAILABLE: "ADDRESS_NOT_AVAILABLE",
  /** 503 (at start, never sent): the agent may not listen on that port (below 1024). */
  ADDRESS_NOT_ALLOWED: "ADDRESS_NOT_ALLOWED",

  // Peer agent: the download engine.
  /** 502: the finished file's SHA1 is not the one shared (every piece matched): the sharer's file changed; the partial file is kept. */
  FILE_CHECKSUM_MISMATCH: "FILE_CHECKSUM_MISMATCH",
  /** 503: no reachable peer holds a missing piece; verified pieces are kept for a later resume. */
  NO_PEER_HAS_PIECE: "NO_PEER_HAS_PIECE",
  /** 500: the piece worker (checking and writing pieces) failed. */
  PIECE_STORE_FAILED: "PIECE_STORE_FAILED",
  /** 500: a verified piece could not be written to the partial file. */
  WRITE_FAILED: "WRITE_FAILED",
  /** 502: a peer's answer that breaks the protocol (no bitfield, too large, not JSON). */
  PEER_BAD_ANSWER: "PEER_BAD_ANSWER",
  /** 502: a tracker's answer that breaks the protocol (pages that do not advance, a file description that does not hold together). */
  TRACKER_BAD_ANSWER: "TRACKER_BAD_ANSWER",

  // Tracker client (shared) and the client.
  /** 503: no tracker of tracker_info.txt answered. */
  NO_TRACKER_REACHABLE: "NO_TRACKER_REACHABLE",
  /** 400 (never sent): tracker_info.txt (or the --ca file) is unreadable, empty or has a line that is not a tracker address. */
  BAD_TRACKER_INFO: "BAD_TRACKER_INFO",
  /** 400 (never sent): a tracker number that is not a line of tracker_info.txt. */
  BAD_TRACKER_NUMBER: "BAD_TRACKER_NUMBER",
  /** 400 (never sent): a command with missing or extra arguments; `client --agent` exits 2. */
  USAGE: "USAGE",
  /** 400 (never sent): a command the client does not have. */
  UNKNOWN_COMMAND: "UNKNOWN_COMMAND",
  /** 400 (never sent): a command line with an unterminated quote. */
  UNTERMINATED_QUOTE: "UNTERMINATED_QUOTE",
  /** 400 (never sent): an empty password typed at the prompt. */
  EMPTY_PASSWORD: "EMPTY_PASSWORD",
  /** 400 (never sent): the new password typed twice differently. */
  PASSWORD_MISMATCH: "PASSWORD_MISMATCH",
  /** 503 (never sent): `client --agent` found no agent answering at that address. */
  AGENT_UNREACHABLE: "AGENT_UNREACHABLE",
} as const);

export type Code = (typeof Codes)[keyof typeof Codes];

/** RFC 9457 problem details, as sent by the trackers and the peer agent. */
export interface ProblemDocument {
  /** A URI reference naming the problem type. */
  type: string;
  /** Short summary of the problem type. */
  title: string;
  /** The HTTP status code. */
  status: number;
  /** Human-readable explanation of this occurrence. */
  detail: string;
  /** Stable machine-readable code, e.g. `NOT_MEMBER`. */
  code: string;
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  416: "Range Not Satisfiable",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  507: "Insufficient Storage",
};

export function toProblem(error: AppError): ProblemDocument {
  return {
    type: `urn:p2p-share:problem:${error.code.toLowerCase().replaceAll("_", "-")}`,
    title: TITLES[error.status] ?? "Error",
    status: error.status,
    detail: error.message,
    code: error.code,
    ...error.extra,
  };
}

/** Rebuilds a typed error from a problem document received over HTTP. */
export function fromProblem(status: number, body: unknown): AppError {
  const doc = (typeof body === "object" && body !== null ? body : {}) as Partial<ProblemDocument>;
  const code = typeof doc.code === "string" ? doc.code : `HTTP_${status}`;
  const detail = typeof doc.detail === "string" ? doc.detail : `request failed with status ${status}`;
  switch (status) {
    case 400: return new ValidationError(detail, code);
    case 401: return new UnauthorizedError(detail, code);
    case 403: return new ForbiddenError(detail, code);
    case 404: return new NotFoundError(detail, code);
    case 409: return new ConflictError(detail, code);
    case 413: return new PayloadTooLargeError(detail, code);
    case 416: return new RangeNotSatisfiableError(detail, code);
    case 429: return new TooManyRequestsError(detail, Number(doc.retryAfterSeconds ?? 1), code);
    case 503: return new UnavailableError(detail, code);
    default: return new AppError(status, code, detail);
  }
}
