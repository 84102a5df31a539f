import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeHlc, encodeHlc, HybridClock } from "../../src/replication/hlc.js";
import { clusterSecretFor, DEMO_CLUSTER_SECRET, sign, SignatureVerifier } from "../../src/replication/signing.js";

test("HLC strings compare in timestamp order, with the origin as the last tie-break", () => {
  const stamps = [
    { wall: 5, logical: 0, origin: "tracker-2" },
    { wall: 10, logical: 0, origin: "tracker-1" },
    { wall: 10, logical: 0, origin: "tracker-2" },
    { wall: 10, logical: 2, origin: "tracker-1" },
    { wall: 100, logical: 0, origin: "tracker-1" },
  ];
  const encoded = stamps.map(encodeHlc);
  assert.deepEqual([...encoded].sort(), encoded);
  assert.deepEqual(encoded.map(decodeHlc), stamps);
});

test("a clock never goes back: same millisecond, a stalled wall clock and a remote clock ahead all move it forward", () => {
  let now = 1000;
  const clock = new HybridClock("tracker-1", () => now);
  const first = clock.tick();
  const second = clock.tick();
  now = 900;
  const third = clock.tick();
  clock.observe(encodeHlc({ wall: 5000, logical: 7, origin: "tracker-2" }));
  const fourth = clock.tick();
  assert.ok(first < second && second < third && third < fourth);
  assert.deepEqual(decodeHlc(fourth), { wall: 5000, logical: 8, origin: "tracker-1" });
});

test("a signature checks only for the same secret, timestamp, delivery id, target and body, and only once", () => {
  let now = 1_000_000;
  const verifier = new SignatureVerifier("s".repeat(20), () => now);
  const headers = sign("s".repeat(20), "POST", "/replication/events", "{}", now);
  assert.throws(() => verifier.verify(headers, "POST", "/replication/other", "{}"), { code: "REPLICATION_BAD_SIGNATURE" });
  assert.throws(() => verifier.verify(headers, "POST", "/replication/events", "{ }"), { code: "REPLICATION_BAD_SIGNATURE" });
  verifier.verify(headers, "POST", "/replication/events", "{}");
  assert.throws(() => verifier.verify(headers, "POST", "/replication/events", "{}"), { code: "REPLICATION_REPLAYED" });
  now += 5 * 60_000 + 1;
  const late = sign("s".repeat(20), "POST", "/replication/events", "{}", now - 5 * 60_000 - 1);
  assert.throws(() => verifier.verify(late, "POST", "/replication/events", "{}"), { code: "REPLICATION_STALE" });
});

test("the demo secret is only allowed when the tracker listens on loopback", () => {
  assert.equal(clusterSecretFor("127.0.0.1", undefined), DEMO_CLUSTER_SECRET);
  assert.equal(clusterSecretFor("::1", undefined), DEMO_CLUSTER_SECRET);
  assert.throws(() => clusterSecretFor("0.0.0.0", undefined), { code: "CLUSTER_SECRET_REQUIRED" });
  assert.throws(() => clusterSecretFor("192.168.1.4", "short"), { code: "WEAK_CLUSTER_SECRET" });
  assert.throws(() => clusterSecretFor("192.168.1.4", DEMO_CLUSTER_SECRET), { code: "CLUSTER_SECRET_REQUIRED" });
  assert.equal(clusterSecretFor("192.168.1.4", "a-long-enough-cluster-secret"), "a-long-enough-cluster-secret");
});
