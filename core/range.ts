import { RangeNotSatisfiableError } from "./errors.js";

/** An inclusive byte range [start, end] inside a representation of `size` bytes. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses one `Range: bytes=...` header value against a representation size.
 * Accepts `start-end`, `start-` and `-suffix`. Multiple ranges, other units,
 * malformed or overflowing numbers and ranges past the end are refused with a
 * RangeNotSatisfiableError (416), whose `size` lets the server answer with
 * `Content-Range: bytes * /size`.
 */
export function parseRange(header: string, size: number): ByteRange {
  const refuse = (why: string, code: string) => new RangeNotSatisfiableError(why, code, { size });
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) {
    if (/^bytes=.*,/.test(header)) throw refuse("multiple ranges are not supported", "MULTI_RANGE_UNSUPPORTED");
    throw refuse(`malformed Range header "${header.slice(0, 100)}"`, "MALFORMED_RANGE");
  }
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") throw refuse("Range header names no bytes", "MALFORMED_RANGE");
  const toNumber = (digits: string): number => {
    const value = Number(digits);
    if (digits.length > 16 || !Number.isSafeInteger(value)) throw refuse("range value too large", "MALFORMED_RANGE");
    return value;
  };
  if (first === "") {
    const suffix = toNumber(last);
    if (suffix === 0 || size === 0) throw refuse("empty suffix range", "RANGE_PAST_END");
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = toNumber(first);
  const end = last === "" ? size - 1 : Math.min(toNumber(last), size - 1);
  if (last !== "" && toNumber(last) < start) throw refuse("range end is before its start", "MALFORMED_RANGE");
  if (start >= size) throw refuse(`range starts at ${start}, past the end (${size} bytes)`, "RANGE_PAST_END");
  return { start, end };
}
