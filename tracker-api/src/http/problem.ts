import type { ProblemDocument } from "../../../core/errors.js";

/**
 * RFC 9457 problem details: every error of the tracker is answered this way
 * (`application/problem+json`). Branch on `code`, which never changes; `detail`
 * is for people. Some problems add members, e.g. `errors` (field errors of a
 * 400) or `retryAfterSeconds` (429).
 * @example {"type": "urn:p2p-share:problem:not-member", "title": "Forbidden", "status": 403, "detail": "you are not a member of \"movies\"; ask to join first", "code": "NOT_MEMBER"}
 */
// The documented name of core's ProblemDocument in openapi.yaml, with an example.
export interface Problem extends ProblemDocument {}
