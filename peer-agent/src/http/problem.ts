import type { ServerResponse } from "node:http";
import { AppError, Codes, MethodNotAllowedError, RangeNotSatisfiableError, toProblem } from "../../../core/errors.js";

/**
 * Answers an error as an RFC 9457 problem document, with the headers its kind
 * calls for; anything that is not a typed error is a 500 that reveals nothing.
 * A response already under way is cut instead.
 */
export function sendProblem(res: ServerResponse, error: unknown): void {
  const known = error instanceof AppError ? error : new AppError(500, Codes.INTERNAL, "internal error");
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  if (known instanceof RangeNotSatisfiableError && typeof known.extra?.size === "number") {
    headers["content-range"] = `bytes */${known.extra.size}`;
  }
  if (known instanceof MethodNotAllowedError) headers.allow = known.allow;
  if (known.status === 401) headers["www-authenticate"] = 'Bearer realm="peer"';
  if (typeof known.extra?.retryAfterSeconds === "number") headers["retry-after"] = String(known.extra.retryAfterSeconds);
  res.writeHead(known.status, headers);
  res.end(JSON.stringify(toProblem(known)));
}
