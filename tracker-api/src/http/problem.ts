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
}

/**
 * Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): a random key (1-255 visible ASCII characters, e.g. a UUID) that the client sends with a write and keeps across its retries, on this tracker or on another one. A retry of the same request is answered with the first answer and `Idempotent-Replayed: true` instead of being done twice; the same key on a different request is a 409 problem (`IDEMPOTENCY_KEY_REUSED`).
 * @example "5f0c2d1e-8a4b-4c3d-9e7f-0a1b2c3d4e5f"
 * @minLength 1
 * @maxLength 255
 */
export type IdempotencyKey = string;
