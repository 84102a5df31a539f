import { test } from "node:test";
import assert from "node:assert/strict";
import { parseByteRate } from "../byte-rate.js";

test("rates are read with binary units, with or without B and /s", () => {
  assert.equal(parseByteRate("2M"), 2 * 1024 * 1024);
  assert.equal(parseByteRate("500k"), 500 * 1024);
  assert.equal(parseByteRate("1.5MiB/s"), 1.5 * 1024 * 1024);
  assert.equal(parseByteRate("750000"), 750000);
  assert.equal(parseByteRate("0"), 0);
});

test("unlimited, off and none mean no limit", () => {
  for (const word of ["unlimited", "OFF", "none"]) assert.equal(parseByteRate(word), undefined);
});

test("anything else is refused with an example of what works", () => {
  for (const text of ["fast", "-1M", "2T", "", "1e9"]) {
    assert.throws(() => parseByteRate(text), { code: "BAD_RATE", message: /e\.g\. 2M/ });
  }
});
