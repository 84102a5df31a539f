import { test } from "node:test";
import assert from "node:assert/strict";
import { AGENT } from "../../src/config.js";
import { RateMeter } from "../../src/download/rate-meter.js";

const MiB = 1024 * 1024;

/** 1 MiB every 250 ms from `from` to `to`: 4 MiB/s. */
function flow(meter: RateMeter, from: number, to: number): void {
  for (let t = from; t < to; t += 250) meter.add(MiB, t);
}

test("a steady flow is shown at its rate", () => {
  const meter = new RateMeter(1_000_000);
  flow(meter, 1_000_000, 1_010_000);
  assert.ok(Math.abs(meter.bytesPerSecond(1_010_000) - 4 * MiB) < 0.25 * MiB, `${meter.bytesPerSecond(1_010_000)}`);
});

test("the speed falls to 0 once nothing has arrived for a whole window", () => {
  const meter = new RateMeter(1_000_000);
  flow(meter, 1_000_000, 1_010_000);
  assert.equal(meter.bytesPerSecond(1_010_000 + AGENT.RATE_WINDOW_MS + 250), 0);
});

test("the speed halves when the flow stops for half a window", () => {
  const meter = new RateMeter(1_000_000);
  flow(meter, 1_000_000, 1_010_000);
  const rate = meter.bytesPerSecond(1_010_000 + AGENT.RATE_WINDOW_MS / 2);
  assert.ok(Math.abs(rate - 2 * MiB) < 0.25 * MiB, `${rate}`);
});
