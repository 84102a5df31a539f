import type { ProblemDocument } from "../../../core/errors.js";

/**
 * RFC 9457 problem details: every error of the tracker is answered this way
 * (`application/problem+json`). Branch on `code`, which never changes; `detail`
 * is for people. Some problems add members, e.g. `errors` (field errors of a
 * 400) or `retryAfterSeconds` (429).
 * @example {"type": "urn:p2p-share:problem:not-member", "title": "Forbidden", "status": 403, "detail": "you are not a member of \"movies\"; ask to join first", "code": "NOT_MEMBER"}
 */
// The documented name of core's ProblemDocument in openapi.yaml, with an example.
export interface Problem extends ProblemDocument {
  /** With `VALIDATION_FAILED`: per request field (e.g. `queries.limit`, `body.fileName`), what is wrong with it and the value sent. */
  errors?: { [field: string]: { message: string; value?: unknown } };
  /** With a 429: seconds to wait before trying again (also in `Retry-After`). @isInt */
  retryAfterSeconds?: number;
  /** With a 405: the methods this path answers (also in `Allow`). */
  allow?: string;
}

/**
 * Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): a random key (1-255 visible ASCII characters, e.g. a UUID) that the client sends with a write and keeps across its retries, on this tracker or on another one. A retry of the same request is answered with the first answer and `Idempotent-Replayed: true` instead of being done twice; the same key on a different request (or an account retried with another password) is a 422 problem (`IDEMPOTENCY_KEY_REUSED`).
 * @example "5f0c2d1e-8a4b-4c3d-9e7f-0a1b2c3d4e5f"
 * @minLength 1
 * @maxLength 255
 */
export type IdempotencyKey = string;

/** The media type of every error answer. */
export const PROBLEM_JSON = "application/problem+json";

// Examples of the problems each status stands for, shown under that status in
// openapi.yaml (and Swagger UI). They are answers the tracker really sends.

export const UNAUTHENTICATED: Problem = {
  type: "urn:p2p-share:problem:unauthenticated", title: "Unauthorized", status: 401,
  detail: "log in first: a bearer token is required", code: "UNAUTHENTICATED",
};
export const BAD_CREDENTIALS: Problem = {
  type: "urn:p2p-share:problem:bad-credentials", title: "Unauthorized", status: 401, detail: "wrong user id or password", code: "BAD_CREDENTIALS",
};
export const LOGIN_THROTTLED: Problem = {
  type: "urn:p2p-share:problem:login-throttled", title: "Too Many Requests", status: 429,
  detail: "too many failed logins; try again in 60 s", code: "LOGIN_THROTTLED", retryAfterSeconds: 60,
};
export const HEALTH_BUSY: Problem = {
  type: "urn:p2p-share:problem:health-busy", title: "Too Many Requests", status: 429,
  detail: "too many health calls are waiting; try again in a second", code: "HEALTH_BUSY", retryAfterSeconds: 1,
};
export const WRONG_PASSWORD: Problem = {
  type: "urn:p2p-share:problem:wrong-password", title: "Forbidden", status: 403, detail: "the current password is wrong", code: "WRONG_PASSWORD",
};
export const NOT_MEMBER: Problem = {
  type: "urn:p2p-share:problem:not-member", title: "Forbidden", status: 403,
  detail: "you are not a member of \"movies\"; ask to join first", code: "NOT_MEMBER",
};
export const NOT_OWNER: Problem = {
  type: "urn:p2p-share:problem:not-owner", title: "Forbidden", status: 403, detail: "only the owner of \"movies\" (alice) may do this", code: "NOT_OWNER",
};
export const NOT_SELF: Problem = {
  type: "urn:p2p-share:problem:not-self", title: "Forbidden", status: 403, detail: "only the owner of \"movies\" may remove another member; you can remove yourself", code: "NOT_SELF",
};
export const GROUPS_OWNED_QUOTA: Problem = {
  type: "urn:p2p-share:problem:quota-exceeded", title: "Forbidden", status: 403,
  detail: "you own 1000 groups, the most one user may own; delete or leave one first", code: "QUOTA_EXCEEDED",
};
export const FILES_SHARED_QUOTA: Problem = {
  type: "urn:p2p-share:problem:quota-exceeded", title: "Forbidden", status: 403,
  detail: "you share 100000 files, the most one user may share; stop sharing some first", code: "QUOTA_EXCEEDED",
};
export const JOIN_REQUESTS_QUOTA: Problem = {
  type: "urn:p2p-share:problem:quota-exceeded", title: "Forbidden", status: 403,
  detail: "you have 200 join requests pending, the most one user may have; wait for owners to answer them", code: "QUOTA_EXCEEDED",
};
export const GROUP_NOT_FOUND: Problem = {
  type: "urn:p2p-share:problem:group-not-found", title: "Not Found", status: 404, detail: "group \"movies\" does not exist", code: "GROUP_NOT_FOUND",
};
export const REQUEST_NOT_FOUND: Problem = {
  type: "urn:p2p-share:problem:request-not-found", title: "Not Found", status: 404,
  detail: "\"bob\" has no pending request to join \"movies\"", code: "REQUEST_NOT_FOUND",
};
export const FILE_NOT_FOUND: Problem = {
  type: "urn:p2p-share:problem:file-not-found", title: "Not Found", status: 404, detail: "\"holiday.mp4\" is not shared in \"movies\"", code: "FILE_NOT_FOUND",
};
export const NOT_SHARING: Problem = {
  type: "urn:p2p-share:problem:not-sharing", title: "Not Found", status: 404, detail: "you do not share \"holiday.mp4\" in \"movies\"", code: "NOT_SHARING",
};
export const USER_EXISTS: Problem = {
  type: "urn:p2p-share:problem:user-exists", title: "Conflict", status: 409, detail: "user id \"alice\" is taken", code: "USER_EXISTS",
};
export const GROUP_EXISTS: Problem = {
  type: "urn:p2p-share:problem:group-exists", title: "Conflict", status: 409, detail: "group id \"movies\" is taken", code: "GROUP_EXISTS",
};
export const REQUEST_PENDING: Problem = {
  type: "urn:p2p-share:problem:request-pending", title: "Conflict", status: 409,
  detail: "your request to join \"movies\" is already pending", code: "REQUEST_PENDING",
};
export const FILE_NAME_TAKEN: Problem = {
  type: "urn:p2p-share:problem:file-name-taken", title: "Conflict", status: 409,
  detail: "\"holiday.mp4\" is already shared in \"movies\" with different content; rename your file", code: "FILE_NAME_TAKEN",
};
export const IDEMPOTENCY_KEY_REUSED: Problem = {
  type: "urn:p2p-share:problem:idempotency-key-reused", title: "Unprocessable Content", status: 422,
  detail: "Idempotency-Key \"5f0c2d1e-8a4b-4c3d-9e7f-0a1b2c3d4e5f\" was used for another request (POST /groups); use a new key for a new request",
  code: "IDEMPOTENCY_KEY_REUSED",
};
export const BAD_IDEMPOTENCY_KEY: Problem = {
  type: "urn:p2p-share:problem:bad-idempotency-key", title: "Bad Request", status: 400,
  detail: "Idempotency-Key must be 1-255 visible ASCII characters", code: "BAD_IDEMPOTENCY_KEY",
};
export const VALIDATION_FAILED: Problem = {
  type: "urn:p2p-share:problem:validation-failed", title: "Bad Request", status: 400, detail: "request does not match the API",
  code: "VALIDATION_FAILED", errors: { "queries.limit": { message: "limit must be at most 1000", value: "5000" } },
};
export const INVALID_CURSOR: Problem = {
  type: "urn:p2p-share:problem:invalid-cursor", title: "Bad Request", status: 400, detail: "cursor is not one this tracker gave out", code: "INVALID_CURSOR",
};
export const BAD_FILE_NAME: Problem = {
  type: "urn:p2p-share:problem:bad-file-name", title: "Bad Request", status: 400,
  detail: "file name is 400 bytes in UTF-8; at most 250 fit on a filesystem with the \".part\" of a download", code: "BAD_FILE_NAME",
};
export const BAD_MANIFEST: Problem = {
  type: "urn:p2p-share:problem:bad-manifest", title: "Bad Request", status: 400,
  detail: "manifest entry 3 (\"../notes.txt\"): a path may not contain \"..\"", code: "BAD_MANIFEST",
};
export const NOT_A_FOLDER: Problem = {
  type: "urn:p2p-share:problem:not-a-folder", title: "Not Found", status: 404, detail: "\"holiday.mp4\" in \"movies\" is a file, not a folder; it has no manifest", code: "NOT_A_FOLDER",
};
export const METHOD_NOT_ALLOWED: Problem = {
  type: "urn:p2p-share:problem:method-not-allowed", title: "Method Not Allowed", status: 405,
  detail: "PUT is not allowed here; this resource answers GET, HEAD, POST", code: "METHOD_NOT_ALLOWED", allow: "GET, HEAD, POST",
};
export const PAYLOAD_TOO_LARGE: Problem = {
  type: "urn:p2p-share:problem:payload-too-large", title: "Content Too Large", status: 413, detail: "request body is larger than 8mb", code: "PAYLOAD_TOO_LARGE",
};
export const BODY_INVALID: Problem = {
  type: "urn:p2p-share:problem:validation-failed", title: "Bad Request", status: 400, detail: "request does not match the API",
  code: "VALIDATION_FAILED", errors: { "body.userId": { message: "Not match in '^(?!\\.{1,2}$)[A-Za-z0-9._-]{1,64}$'", value: "a b" } },
};
export const ALREADY_MEMBER: Problem = {
  type: "urn:p2p-share:problem:already-member", title: "Conflict", status: 409, detail: "you are already a member of \"movies\"", code: "ALREADY_MEMBER",
};
