/**
 * Three trackers: one is cut off while the other two make causally related
 * changes (a group made on 1, emptied and deleted on 2, made again on 2; a
 * login on 1 ended on 2) and it makes conflicting ones. It then catches up
 * through tracker 2 alone (1 is down), so 2's events can reach it before the
 * events of 1 they depend on; all three must end in the same state.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { call, Cluster, converged, createUser, digest, login, waitUntil } from "./cluster.js";

let cluster: Cluster;
let one: string;
let two: string;
let three: string;
const tokens: Record<string, string> = {};
let endedOnTwo: string;

const as = (user: string) => ({ token: tokens[user] });
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  cluster = await Cluster.start(3);
  [one, two, three] = cluster.trackers.map((t) => t.url) as [string, string, string];
  for (const user of ["alice", "bob", "carol", "dave"]) {
    await createUser(one, user);
    tokens[user] = await login(one, user);
  }
  await converged(cluster);

  await call(three, "POST", "/replication/test/partition", { body: { blocked: true } });
  // On 1: alice makes the group and lets bob in; 2 sees it at once.
  assert.equal((await call(one, "POST", "/groups", { ...as("alice"), body: { groupId: "club" } })).status, 201);
  await call(one, "POST", "/groups/club/join-requests", as("bob"));
  assert.equal((await call(one, "POST", "/groups/club/join-requests/bob/accept", as("alice"))).status, 200);
  assert.equal((await createUser(one, "zed", "first")).status, 201);
  endedOnTwo = await login(one, "bob");
  await waitUntil(async () => (await digest(one)) === (await digest(two)), 10_000, "trackers 1 and 2 equal");
  // On 3, cut off: dave makes the same group id, later than alice; the same user id, later too.
  assert.equal((await call(three, "POST", "/groups", { ...as("dave"), body: { groupId: "club" } })).status, 201);
  assert.equal((await createUser(three, "zed", "second")).status, 201);
  await pause(5);
  // On 2, after what 1 did: both members leave (the group is deleted), carol makes it again; bob's new session ends.
  assert.equal((await call(two, "DELETE", "/groups/club/members/alice", as("alice"))).status, 204);
  assert.equal((await call(two, "DELETE", "/groups/club/members/bob", as("bob"))).status, 204);
  assert.equal((await call(two, "GET", "/groups/club/members", as("carol"))).status, 404);
  assert.equal((await call(two, "POST", "/groups", { ...as("carol"), body: { groupId: "club" } })).status, 201);
  assert.equal((await call(two, "DELETE", "/sessions/current", { token: endedOnTwo })).status, 204);
  await waitUntil(async () => (await digest(one)) === (await digest(two)), 10_000, "trackers 1 and 2 equal");

  // 1 goes down; 3 comes back and catches up from 2 alone, which relays 1's events.
  await cluster.kill(1);
  await call(three, "POST", "/replication/test/partition", { body: { blocked: false } });
  await converged(cluster, 20_000);
  await cluster.startTracker(1);
  await converged(cluster, 20_000);
});

after(async () => {
  await cluster.stop();
});

test("after catching up through another tracker, all three trackers hold the same state", async () => {
  const digests = await Promise.all([one, two, three].map((base) => digest(base)));
  assert.equal(new Set(digests).size, 1);
});

test("the deleted group gives its name back: of the two later creations, the earlier (dave's on 3) is club and carol's on 2 is club~2", async () => {
  for (const base of [one, two, three]) {
    const daves = await call(base, "GET", "/groups/club/members", as("dave"));
    assert.equal(daves.status, 200);
    assert.deepEqual(daves.body.items.map((m: { userId: string; isOwner: boolean }) => [m.userId, m.isOwner]), [["dave", true]]);
    const carols = await call(base, "GET", "/groups/club~2/members", as("carol"));
    assert.equal(carols.status, 200);
    assert.deepEqual(carols.body.items.map((m: { userId: string; isOwner: boolean }) => [m.userId, m.isOwner]), [["carol", true]]);
    assert.equal((await call(base, "GET", "/groups/club/members", as("carol"))).status, 403);
  }
});

test("a session made on tracker 1 and ended on tracker 2 is ended on all three", async () => {
  for (const base of [one, two, three]) assert.equal((await call(base, "GET", "/groups", { token: endedOnTwo })).status, 401);
});

test("the user id made on both sides stays with the earlier creation on all three; the later account is zed~2", async () => {
  for (const base of [one, two, three]) {
    assert.equal((await call(base, "POST", "/sessions", { body: { userId: "zed", password: "first", peerAddress: "127.0.0.1:7001" } })).status, 201);
    assert.equal((await call(base, "POST", "/sessions", { body: { userId: "zed", password: "second", peerAddress: "127.0.0.1:7001" } })).status, 401);
    assert.equal((await call(base, "POST", "/sessions", { body: { userId: "zed~2", password: "second", peerAddress: "127.0.0.1:7001" } })).status, 201);
  }
});
