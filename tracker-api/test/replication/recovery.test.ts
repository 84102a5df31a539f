/**
 * A tracker knows when it lost its memory: restarted on an empty data
 * directory, it pulls back everything the others have (its own old events
 * included) before it takes writes, reporting `recovering`, and its new
 * writes reach the others. `/health` reports `diverged` when two trackers
 * applied the same events and still differ. Real tracker processes.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { call, Cluster, converged, createUser, health, login, waitUntil } from "./cluster.js";

let cluster: Cluster;
let one: string;
let two: string;
const notes = { fileName: "notes.txt", size: 3, sha1: "3".repeat(40), pieceSize: 524288, pieceHashes: ["4".repeat(40)] };

before(async () => {
  cluster = await Cluster.start(2);
  one = cluster.tracker(1).url;
  two = cluster.tracker(2).url;
});

after(async () => {
  await cluster.stop();
});

test("a tracker restarted on an empty data dir says recovering and refuses writes until it has pulled everything back, then ok, and its new writes reach the other", async () => {
  // Written on tracker 1 (its own events, which only tracker 2 will still have).
  await createUser(one, "alice");
  const alice = await login(one, "alice");
  assert.equal((await call(one, "POST", "/groups", { token: alice, body: { groupId: "kept" } })).status, 201);
  assert.equal((await call(one, "POST", "/groups/kept/files", { token: alice, body: notes })).status, 201);
  await converged(cluster);

  await cluster.wipe(1);
  // Tracker 2 frozen: tracker 1 cannot pull yet.
  cluster.freeze(2);
  await cluster.startTracker(1, { waitRecovered: false });
  assert.equal((await health(one)).status, "recovering");
  const refused = await call(one, "POST", "/users", { body: { userId: "too-early", password: "pw" } });
  assert.equal(refused.status, 503);
  assert.equal(refused.body.code, "TRACKER_RECOVERING");
  assert.ok(Number(refused.headers?.["retry-after"]) > 0);

  cluster.thaw(2);
  await waitUntil(async () => (await health(one)).status === "ok", 30_000, "tracker 1 recovered");
  await converged(cluster);
  // Everything is back on tracker 1: the account, the group, the file.
  const again = await login(one, "alice");
  const files = await call(one, "GET", "/groups/kept/files", { token: again });
  assert.deepEqual(files.body.items.map((f: { fileName: string; sharedBy: string[] }) => [f.fileName, f.sharedBy]), [["notes.txt", ["alice"]]]);
  // New writes on tracker 1 reach tracker 2 (they are not taken for ones it saw already).
  assert.equal((await createUser(one, "after-recovery")).status, 201);
  assert.equal((await call(one, "POST", "/groups", { token: again, body: { groupId: "made-after" } })).status, 201);
  await converged(cluster);
  await login(two, "after-recovery");
  const groups = (await call(two, "GET", "/groups", { token: await login(two, "alice") })).body.items.map((g: { groupId: string }) => g.groupId);
  assert.deepEqual(groups, ["kept", "made-after"]);
});

test("health says diverged when the two trackers applied the same events but their databases differ", async () => {
  await converged(cluster);
  assert.equal((await health(one)).status, "ok");
  // Behind the rules' back: one row changed in tracker 2's database.
  await cluster.execute(2, `UPDATE "User" SET "passwordHash" = 'tampered' WHERE "name" = 'alice'`);
  for (const base of [one, two]) {
    await waitUntil(async () => (await health(base)).status === "diverged", 10_000, `${base} reporting diverged`);
    const view = await health(base);
    assert.equal(view.peers.every((p) => p.behind === 0 && p.unacknowledged === 0), true);
  }
});
