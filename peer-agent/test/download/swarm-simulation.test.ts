import { test } from "node:test";
import assert from "node:assert/strict";
import { simulateSwarm, type SwarmScenario } from "./support/swarm-simulation.js";

/** Deterministic random source (mulberry32) so a failing run can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The flash crowd of the swarm benchmark: 256 MiB, one seeder, every upload 200 Mbit/s, loopback round trips. */
const crowd = (downloaders: number, seed: number): SwarmScenario => ({
  pieceCount: 512,
  pieceSize: 512 * 1024,
  seeders: 1,
  downloaders,
  uploadBytesPerSecond: 25e6,
  roundTripMs: 1,
  pushDelayMs: 2,
  pollIntervalMs: 0,
  sendingEvents: true,
  spreadOrder: true,
  random: seeded(seed),
});

test("six downloaders fed by one seeder all finish near the P2P ideal and the seeder sends little more than one copy", () => {
  for (const seed of [1, 2]) {
    const outcome = simulateSwarm(crowd(6, seed));
    const last = Math.max(...outcome.finishedMs);
    assert.ok(last <= outcome.idealMs * 1.2, `seed ${seed}: last finished at ${(last / outcome.idealMs).toFixed(2)}x the ideal`);
    assert.ok(outcome.seederCopies <= 1.2, `seed ${seed}: the seeder sent ${outcome.seederCopies.toFixed(2)} copies`);
    assert.ok(outcome.fromDownloaders >= 0.75, `seed ${seed}: only ${(outcome.fromDownloaders * 100).toFixed(0)}% came from other downloaders`);
  }
});

test("downloaders that keep file order all ask the seeder for the same pieces, however fast they learn what the others have", () => {
  // The contrast that makes the rule above necessary: with pushed haves but one shared order, the swarm is a client-server download.
  const outcome = simulateSwarm({ ...crowd(6, 3), spreadOrder: false, limitMs: 30_000 });
  assert.ok(outcome.seederCopies > 2, `the seeder sent only ${outcome.seederCopies.toFixed(2)} copies`);
});
