/**
 * Identity is immutable, names are not: the same user id or group id created
 * on two trackers that could not reach each other (one killed, the other
 * frozen with SIGSTOP) ends with two accounts or two groups, each with all of
 * its own data, one of them renamed `name~2` and its owner told. Nothing moves
 * from one person to the other. Real tracker processes.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { call, Cluster, converged, createUser, login } from "./cluster.js";

let cluster: Cluster;
let one: string;
let two: string;
const plans = { fileName: "plans.pdf", size: 3, sha1: "e".repeat(40), pieceSize: 524288, pieceHashes: ["f".repeat(40)] };
const notes = { fileName: "notes.txt", size: 3, sha1: "1".repeat(40), pieceSize: 524288, pieceHashes: ["2".repeat(40)] };
const session = (userId: string, password: string) =>
  ({ body: { userId, password, peerAddress: "127.0.0.1:7001" } });

before(async () => {
  cluster = await Cluster.start(2);
  one = cluster.tracker(1).url;
  two = cluster.tracker(2).url;
  await createUser(one, "alice");
  await createUser(one, "bob");
  await converged(cluster);

  // Tracker 2 down: dupuser (password A) made on 1, and alice's teamgroup with her notes.
  await cluster.kill(2);
  assert.equal((await createUser(one, "dupuser", "password-A")).status, 201);
  const alice = await login(one, "alice");
  assert.equal((await call(one, "POST", "/groups", { token: alice, body: { groupId: "teamgroup" } })).status, 201);
  assert.equal((await call(one, "POST", "/groups/teamgroup/files", { token: alice, body: notes })).status, 201);

  // Tracker 1 frozen (it cannot answer, nor push), tracker 2 back with its old database.
  cluster.freeze(1);
  await cluster.startTracker(2);
  assert.equal((await createUser(two, "dupuser", "password-B")).status, 201);
  const victim = await login(two, "dupuser", "password-B");
  assert.equal((await call(two, "POST", "/groups", { token: victim, body: { groupId: "victimgroup" } })).status, 201);
  assert.equal((await call(two, "POST", "/groups/victimgroup/files", { token: victim, body: plans })).status, 201);
  // bob makes teamgroup too, later than alice, and shares his plans there.
  const bob = await login(two, "bob");
  assert.equal((await call(two, "POST", "/groups", { token: bob, body: { groupId: "teamgroup" } })).status, 201);
  assert.equal((await call(two, "POST", "/groups/teamgroup/files", { token: bob, body: plans })).status, 201);

  cluster.thaw(1);
  await converged(cluster, 30_000);
});

after(async () => {
  await cluster.stop();
});

test("after the heal, dupuser is the earlier account (password A) and owns nothing of the other's: not victimgroup, not plans.pdf, no grant", async () => {
  for (const base of [one, two]) {
    const loggedIn = await call(base, "POST", "/sessions", session("dupuser", "password-A"));
    assert.equal(loggedIn.status, 201);
    assert.equal(loggedIn.body.userId, "dupuser");
    const token = loggedIn.body.token as string;
    assert.equal((await call(base, "GET", "/groups/victimgroup/members", { token })).status, 403);
    assert.equal((await call(base, "GET", "/groups/victimgroup/files", { token })).status, 403);
    assert.equal((await call(base, "GET", "/groups/victimgroup/files/plans.pdf/peers", { token })).status, 403);
    assert.equal((await call(base, "POST", "/sessions", session("dupuser", "password-B"))).status, 401);
    assert.deepEqual(loggedIn.body.notices, []);
  }
});

test("the other account is dupuser~2 with password B, still owns victimgroup and plans.pdf, and is told at login and on every answer", async () => {
  for (const base of [one, two]) {
    const loggedIn = await call(base, "POST", "/sessions", session("dupuser~2", "password-B"));
    assert.equal(loggedIn.status, 201);
    assert.equal(loggedIn.body.userId, "dupuser~2");
    assert.equal(loggedIn.body.notices.length, 1);
    assert.match(loggedIn.body.notices[0], /"dupuser".*"dupuser~2"/);
    const token = loggedIn.body.token as string;
    const members = await call(base, "GET", "/groups/victimgroup/members", { token });
    assert.equal(members.status, 200);
    assert.deepEqual(members.body.items.map((m: { userId: string; isOwner: boolean }) => [m.userId, m.isOwner]), [["dupuser~2", true]]);
    assert.match(String(members.headers?.["p2p-notice"]), /dupuser~2/);
    const files = await call(base, "GET", "/groups/victimgroup/files", { token });
    assert.deepEqual(files.body.items.map((f: { fileName: string; sharedBy: string[] }) => [f.fileName, f.sharedBy]), [["plans.pdf", ["dupuser~2"]]]);
    const groups = await call(base, "GET", "/groups", { token });
    assert.equal(groups.body.items.find((g: { groupId: string }) => g.groupId === "victimgroup").owner, "dupuser~2");
  }
});

test("a group id made on both sides: alice's earlier teamgroup keeps the name and her notes; bob's is teamgroup~2 with his plans, and he is told", async () => {
  for (const base of [one, two]) {
    const alice = await login(base, "alice");
    const bob = await login(base, "bob");
    const aliceFiles = await call(base, "GET", "/groups/teamgroup/files", { token: alice });
    assert.deepEqual(aliceFiles.body.items.map((f: { fileName: string; sharedBy: string[] }) => [f.fileName, f.sharedBy]), [["notes.txt", ["alice"]]]);
    assert.equal((await call(base, "GET", "/groups/teamgroup/files", { token: bob })).status, 403);
    const bobFiles = await call(base, "GET", "/groups/teamgroup~2/files", { token: bob });
    assert.deepEqual(bobFiles.body.items.map((f: { fileName: string; sharedBy: string[] }) => [f.fileName, f.sharedBy]), [["plans.pdf", ["bob"]]]);
    assert.equal((await call(base, "GET", "/groups/teamgroup~2/files", { token: alice })).status, 403);
    assert.equal((await call(base, "GET", "/groups/teamgroup~2/files/plans.pdf/peers", { token: alice })).status, 403);
    const told = await call(base, "GET", "/sessions/current", { token: bob });
    assert.deepEqual(told.body, { userId: "bob", notices: [told.body.notices[0]] });
    assert.match(told.body.notices[0], /"teamgroup".*"teamgroup~2"/);
    assert.deepEqual((await call(base, "GET", "/sessions/current", { token: alice })).body, { userId: "alice", notices: [] });
  }
});
