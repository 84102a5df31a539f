import { Codes, RangeNotSatisfiableError } from "./errors.js";

/** An inclusive byte range [start, end] inside a representation of `size` bytes. */
export interface ByteRange {
  start: number;
  end: number;
}

const BYTES_UNIT = /^\s*bytes\s*=/i;

/**
 * Parses a `Range` header value against a representation size (RFC 9110 §14).
 * Accepts one `start-end`, `start-` or `-suffix` in the `bytes` unit, whose
 * name is case-insensitive. Answers undefined when the header is to be ignored
 * and the request answered as if it had none: another unit (§14.2: a server
 * MUST ignore units it does not understand), or several ranges (§14.2: a
 * server MAY ignore the header; this one does rather than send multipart).
 * Malformed or overflowing numbers and ranges past the end are refused with a
 * RangeNotSatisfiableError (416), whose `size` lets the server answer with
 * `Content-Range: bytes * /size`.
 */
export function parseRange(header: string, size: number): ByteRange | undefined {
  const refuse = (why: string, code: string) => new RangeNotSatisfiableError(why, code, { size });
  const unit = BYTES_UNIT.exec(header);
  if (!unit) {
    if (/^\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*=/.test(header)) return undefined; // another range unit
    throw refuse(`malformed Range header "${header.slice(0, 100)}"`, Codes.MALFORMED_RANGE);
  }
  const spec = header.slice(unit[0].length);
  if (spec.includes(",")) return undefined;
  const match = /^\s*(\d*)-(\d*)\s*$/.exec(spec);
  if (!match) throw refuse(`malformed Range header "${header.slice(0, 100)}"`, Codes.MALFORMED_RANGE);
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") throw refuse("Range header names no bytes", Codes.MALFORMED_RANGE);
  const toNumber = (digits: string): number => {
    const value = Number(digits);
    if (digits.length > 16 || !Number.isSafeInteger(value)) throw refuse("range value too large", Codes.MALFORMED_RANGE);
    return value;
  };
  if (first === "") {
    const suffix = toNumber(last);
    if (suffix === 0 || size === 0) throw refuse("empty suffix range", Codes.RANGE_PAST_END);
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = toNumber(first);
  const end = last === "" ? size - 1 : Math.min(toNumber(last), size - 1);
  if (last !== "" && toNumber(last) < start) throw refuse("range end is before its start", Codes.MALFORMED_RANGE);
  if (start >= size) throw refuse(`range starts at ${start}, past the end (${size} bytes)`, Codes.RANGE_PAST_END);
  return { start, end };
}

/** The validators a server sends with a representation: a strong entity tag and, when known, its Last-Modified date. */
export interface Validators {
  /** A strong entity tag with its quotes, e.g. `"2fd4…"`. */
  etag: string;
  /** An HTTP-date (IMF-fixdate), e.g. `Tue, 01 Dec 2026 10:00:00 GMT`. */
  lastModified?: string;
}

/**
 * Whether an `If-Range` condition holds (RFC 9110 §13.1.5): an entity tag
 * must match the current one by strong comparison (a weak tag never does); a
 * date must equal Last-Modified exactly. No If-Range always holds. When it
 * does not hold, the Range header is to be ignored and the whole
 * representation sent.
 */
export function ifRangeHolds(ifRange: string | undefined, validators: Validators): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith("W/")) return value === validators.etag;
  if (validators.lastModified === undefined) return false;
  const date = Date.parse(value);
  return !Number.isNaN(date) && date === Date.parse(validators.lastModified);
}
