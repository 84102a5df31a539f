import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { TRACKER } from "../../src/config.js";
import { KeptDigest } from "../../src/replication/kept-digest.js";

/** A kept digest over a state whose heads are `version`, whose reading takes `readMs` and is counted. */
function keptOver(readMs: number) {
  const state = { version: "v1", reads: 0, readStartedAt: 0 };
  const kept = new KeptDigest({
    compute: async () => {
      state.reads += 1;
      state.readStartedAt = performance.now();
      await sleep(readMs);
      return { digest: `digest of ${state.version}`, heads: { [state.version]: 1 } };
    },
    version: () => JSON.stringify({ [state.version]: 1 }),
    diverges: async () => false,
  });
  return { kept, state };
}

test("a flood of health reads never waits for a digest and starts one reading, however many ask", async () => {
  const { kept, state } = keptOver(100);
  const started = performance.now();
  for (let i = 0; i < 1000; i++) assert.deepEqual(kept.read(), { diverged: false });
  assert.ok(performance.now() - started < 100, "reads did not wait");
  await sleep(50);
  for (let i = 0; i < 1000; i++) kept.read(); // while the reading runs
  await sleep(100);
  assert.equal(state.reads, 1);
  assert.deepEqual(kept.read(), { digest: "digest of v1", diverged: false });
  kept.stop();
});

test("after the state changes the old digest is not shown, and the next reading waits out its pause", async () => {
  const { kept, state } = keptOver(40);
  // The reading starts on a timer of its own: on a loaded machine it may end well after 40 ms.
  for (let i = 0; i < 50 && kept.read().digest === undefined; i++) await sleep(20);
  assert.equal(kept.read().digest, "digest of v1");
  state.version = "v2";
  assert.equal(kept.read().digest, undefined, "a digest of an older state is not shown");
  // The pause after a reading is at least HEALTH_DIGEST_MIN_GAP_MS and (1 / share - 1) times the reading, counted from its start.
  const pause = Math.max(TRACKER.HEALTH_DIGEST_MIN_GAP_MS, 40 / TRACKER.HEALTH_DIGEST_SHARE);
  // Checked right after each read, while the pause certainly lasts: checked after the loop, a sleep that overran on a
  // loaded machine (CI, 2026-12-03) let the pause end first, and the second reading it then allowed failed the test.
  for (const deadline = state.readStartedAt + pause - 20; performance.now() < deadline;) {
    kept.read();
    assert.equal(state.reads, 1, "no second reading within the pause");
    await sleep(20);
  }
  for (let i = 0; i < 50 && kept.read().digest === undefined; i++) await sleep(20);
  assert.equal(kept.read().digest, "digest of v2");
  assert.equal(state.reads, 2);
  kept.stop();
});
