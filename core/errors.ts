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
  constructor(message: string, code = "VALIDATION_FAILED", extra?: Record<string, unknown>) {
    super(400, code, message, extra);
  }
}

/** No credentials, or credentials that are forged, expired or revoked. */
export class UnauthorizedError extends AppError {
  constructor(message = "authentication required", code = "UNAUTHENTICATED") {
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
  constructor(message: string, code = "FORBIDDEN") {
    super(403, code, message);
  }
}

/** The addressed resource does not exist (or is not visible to the caller). */
export class NotFoundError extends AppError {
  constructor(message: string, code = "NOT_FOUND") {
    super(404, code, message);
  }
}

/** The change clashes with existing state (duplicate id, different content). */
export class ConflictError extends AppError {
  constructor(message: string, code = "CONFLICT") {
    super(409, code, message);
  }
}

/** The request body is larger than the server accepts. */
export class PayloadTooLargeError extends AppError {
  constructor(message = "request body too large", code = "PAYLOAD_TOO_LARGE") {
    super(413, code, message);
  }
}

/** A byte range outside the representation, or not parseable as one. */
export class RangeNotSatisfiableError extends AppError {
  constructor(message: string, code = "RANGE_NOT_SATISFIABLE", extra?: Record<string, unknown>) {
    super(416, code, message, extra);
  }
}

/** The caller is throttled; `retryAfterSeconds` says when to come back. */
export class TooManyRequestsError extends AppError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number, code = "TOO_MANY_REQUESTS") {
    super(429, code, message, { retryAfterSeconds });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A dependency (another tracker, a peer, the database) cannot serve now. */
export class UnavailableError extends AppError {
  /** When the caller may try again, if known (sent as Retry-After). */
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, code = "UNAVAILABLE", retryAfterSeconds?: number) {
    super(503, code, message, retryAfterSeconds === undefined ? undefined : { retryAfterSeconds });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Not enough disk space to store what was asked for. */
export class InsufficientStorageError extends AppError {
  constructor(message: string, code = "DISK_FULL") {
    super(507, code, message);
  }
}

/**
 * The registry of error codes: each code once, with its status and when it
 * happens. Codes not listed here yet are still passed as strings where they
 * are raised; new ones are added here and used as `Codes.X`.
 */
export const Codes = {
  /** 403: a per-user quota (groups owned, files shared, join requests pending; TRACKER.QUOTAS) is reached. 403, not 429: a quota is not a rate, waiting does not lift it. */
  QUOTA_EXCEEDED: "QUOTA_EXCEEDED",
  /** 400: a path segment is not valid percent-encoding of UTF-8 (`%ZZ`, a truncated `%E0%A4%A`). */
  BAD_PERCENT_ENCODING: "BAD_PERCENT_ENCODING",
  /** 400: a file name that is not a safe base name: a path, `.`/`..`, too many UTF-8 bytes for a filesystem with `.part`, or a control or bidi character (core/validation.ts says which). */
  BAD_FILE_NAME: "BAD_FILE_NAME",
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
} as const;

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
