import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ifRangeHolds, parseRange } from "../range.js";
import { RangeNotSatisfiableError } from "../errors.js";

const refusedWith = (code: string) => (error: unknown) =>
  error instanceof RangeNotSatisfiableError && error.code === code && error.status === 416;

test("a closed range is returned as given", () => {
  assert.deepEqual(parseRange("bytes=10-19", 100), { start: 10, end: 19 });
});

test("an open-ended range runs to the last byte", () => {
  assert.deepEqual(parseRange("bytes=90-", 100), { start: 90, end: 99 });
});

test("a suffix range takes the last bytes", () => {
  assert.deepEqual(parseRange("bytes=-10", 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange("bytes=-500", 100), { start: 0, end: 99 });
});

test("an end past the size is clamped to the last byte", () => {
  assert.deepEqual(parseRange("bytes=50-1000", 100), { start: 50, end: 99 });
});

test("a range starting past the end is refused", () => {
  assert.throws(() => parseRange("bytes=100-", 100), refusedWith("RANGE_PAST_END"));
});

test("several ranges in one header are ignored, so the request is answered as one without Range", () => {
  assert.equal(parseRange("bytes=0-1,5-6", 100), undefined);
  assert.equal(parseRange("bytes=0-1, 5-", 100), undefined);
});

test("the bytes unit is matched without regard to case", () => {
  assert.deepEqual(parseRange("Bytes=0-9", 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange("BYTES=90-", 100), { start: 90, end: 99 });
});

test("a range in a unit other than bytes is ignored", () => {
  assert.equal(parseRange("items=0-5", 100), undefined);
  assert.equal(parseRange("pages=1", 100), undefined);
});

test("If-Range holds only for the same strong entity tag or the exact Last-Modified date", () => {
  const validators = { etag: '"abc"', lastModified: "Tue, 01 Dec 2026 10:00:00 GMT" };
  assert.equal(ifRangeHolds(undefined, validators), true);
  assert.equal(ifRangeHolds('"abc"', validators), true);
  assert.equal(ifRangeHolds('"abd"', validators), false);
  assert.equal(ifRangeHolds('W/"abc"', validators), false, "a weak tag never matches strongly");
  assert.equal(ifRangeHolds("Tue, 01 Dec 2026 10:00:00 GMT", validators), true);
  assert.equal(ifRangeHolds("Tue, 01 Dec 2026 10:00:01 GMT", validators), false);
  assert.equal(ifRangeHolds("not a date", validators), false);
  assert.equal(ifRangeHolds("Tue, 01 Dec 2026 10:00:00 GMT", { etag: '"abc"' }), false);
});

test("negative, reversed, empty and overflowing byte ranges are refused as malformed", () => {
  for (const header of ["bytes=-", "bytes=5-2", "bytes=--1", "bytes=0-99999999999999999999", "bytes=a-b", "garbage"]) {
    assert.throws(() => parseRange(header, 100), refusedWith("MALFORMED_RANGE"), header);
  }
});

test("any accepted range lies inside the representation", () => {
  fc.assert(
    fc.property(fc.string(), fc.integer({ min: 0, max: 1e12 }), (tail, size) => {
      try {
        const range = parseRange(`bytes=${tail}`, size);
        if (range === undefined) return tail.includes(",");
        const { start, end } = range;
        return Number.isSafeInteger(start) && start >= 0 && start <= end && end < size;
      } catch (error) {
        return error instanceof RangeNotSatisfiableError;
      }
    }),
  );
});

test("every well-formed closed range inside the size is accepted unchanged", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1e12 }), fc.nat(), fc.nat(), (size, a, b) => {
      const start = a % size;
      const end = start + (b % (size - start));
      assert.deepEqual(parseRange(`bytes=${start}-${end}`, size), { start, end });
    }),
  );
});
