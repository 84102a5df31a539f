/**
 * Both trackers keep accepting writes while they cannot reach each other;
 * after the partition heals they hold the same state, with the conflict
 * outcomes documented in tracker-api/src/replication/README.md.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { call, Cluster, converged, createUser, digest, login } from "./cluster.js";

let cluster: Cluster;
let one: string;
let two: string;
const tokens: Record<string, string> = {};
let zedTokenOnTwo: string;
const file = { fileName: "song.mp3", size: 3, sha1: "c".repeat(40), pieceSize: 524288, pieceHashes: ["d".repeat(40)] };

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

before(async () => {
  cluster = await Cluster.start(2);
  one = cluster.tracker(1).url;
  two = cluster.tracker(2).url;
  for (const user of ["alice", "bob", "carol", "dave"]) {
    await createUser(one, user);
    tokens[user] = await login(one, user);
  }
  const as = (user: string) => ({ token: tokens[user] });
  await call(one, "POST", "/groups", { ...as("alice"), body: { groupId: "movies" } });
  await call(one, "POST", "/groups/movies/files", { ...as("alice"), body: file });
  await call(one, "POST", "/groups", { ...as("alice"), body: { groupId: "crew" } });
  for (const user of ["bob", "carol"]) {
    await call(one, "POST", "/groups/crew/join-requests", as(user));
    await call(one, "POST", `/groups/crew/join-requests/${user}/accept`, as("alice"));
  }
  await call(one, "POST", "/groups/movies/join-requests", as("dave"));
  await converged(cluster);

  await cluster.partition(true);
  // Same user id on both sides: tracker 1's creation comes first.
  assert.equal((await createUser(one, "zed", "first")).status, 201);
  await pause(5);
  assert.equal((await createUser(two, "zed", "second")).status, 201);
  zedTokenOnTwo = await login(two, "zed", "second");
  // Same group id on both sides: tracker 1's creation (by alice) comes first.
  assert.equal((await call(one, "POST", "/groups", { ...as("alice"), body: { groupId: "club" } })).status, 201);
  await pause(5);
  assert.equal((await call(two, "POST", "/groups", { ...as("bob"), body: { groupId: "club" } })).status, 201);
  // Unshare on 1, then share again on 2: the later one wins.
  assert.equal((await call(one, "DELETE", `/groups/movies/files/${file.fileName}/holders/me`, as("alice"))).status, 204);
  await pause(5);
  assert.equal((await call(two, "POST", "/groups/movies/files", { ...as("alice"), body: file })).status, 200);
  // Ownership: the owner leaves on 1 (bob takes over there) while bob leaves on 2.
  assert.equal((await call(one, "DELETE", "/groups/crew/members/alice", as("alice"))).status, 204);
  assert.equal((await call(two, "DELETE", "/groups/crew/members/bob", as("bob"))).status, 204);
  // The owner accepts dave on 1 and rejects him on 2.
  assert.equal((await call(one, "POST", "/groups/movies/join-requests/dave/accept", as("alice"))).status, 200);
  assert.equal((await call(two, "POST", "/groups/movies/join-requests/dave/reject", as("alice"))).status, 204);
  assert.notEqual(await digest(one), await digest(two));
  await cluster.partition(false);
  await converged(cluster);
});

after(async () => {
  await cluster.stop();
});

test("after the partition heals both trackers hold the same state", async () => {
  assert.equal(await digest(one), await digest(two));
});

test("a user id created on both sides stays with the earlier creation; the other account is zed~2, keeps its session and is told", async () => {
  for (const base of [one, two]) {
    assert.equal((await call(base, "POST", "/sessions", { body: { userId: "zed", password: "first", peerAddress: "127.0.0.1:7001" } })).status, 201);
    assert.equal((await call(base, "POST", "/sessions", { body: { userId: "zed", password: "second", peerAddress: "127.0.0.1:7001" } })).status, 401);
    const renamed = await call(base, "POST", "/sessions", { body: { userId: "zed~2", password: "second", peerAddress: "127.0.0.1:7001" } });
    assert.equal(renamed.status, 201);
    assert.equal(renamed.body.userId, "zed~2");
    assert.match(renamed.body.notices[0], /"zed~2"/);
    const current = await call(base, "GET", "/sessions/current", { token: zedTokenOnTwo });
    assert.equal(current.status, 200);
    assert.equal(current.body.userId, "zed~2");
    assert.match(String(current.headers?.["p2p-notice"]), /zed~2/);
  }
});

test("a group id created on both sides stays with the earlier creation; the other group is club~2 with its own creator", async () => {
  for (const base of [one, two]) {
    const groups = (await call(base, "GET", "/groups", { token: tokens.alice })).body.items as { groupId: string; owner: string; memberCount: number; createdAt: string }[];
    const club = (name: string) => groups.find((g) => g.groupId === name);
    assert.deepEqual(club("club"), { groupId: "club", owner: "alice", memberCount: 1, createdAt: club("club")!.createdAt });
    assert.deepEqual(club("club~2"), { groupId: "club~2", owner: "bob", memberCount: 1, createdAt: club("club~2")!.createdAt });
    assert.equal((await call(base, "GET", "/groups/club/members", { token: tokens.bob })).status, 403);
    assert.equal((await call(base, "GET", "/groups/club~2/members", { token: tokens.alice })).status, 403);
    const told = await call(base, "GET", "/sessions/current", { token: tokens.bob });
    assert.deepEqual(told.body.notices.length, 1);
    assert.match(told.body.notices[0], /"club~2"/);
  }
});

test("unsharing on one side and sharing again later on the other leaves the file shared: the later write wins", async () => {
  for (const base of [one, two]) {
    const files = (await call(base, "GET", "/groups/movies/files", { token: tokens.alice })).body.items as { fileName: string; sharedBy: string[] }[];
    assert.deepEqual(files.map((f) => [f.fileName, f.sharedBy]), [[file.fileName, ["alice"]]]);
  }
});

test("when the owner and the member who would inherit leave on different sides, the earliest remaining member owns the group", async () => {
  for (const base of [one, two]) {
    const members = (await call(base, "GET", "/groups/crew/members", { token: tokens.carol })).body.items as { userId: string; isOwner: boolean }[];
    assert.deepEqual(members, [{ userId: "carol", isOwner: true, joinedAt: (members[0] as { joinedAt?: string }).joinedAt }]);
  }
});

test("a join request accepted on one side and rejected on the other ends with the requester a member and no request pending", async () => {
  for (const base of [one, two]) {
    const members = (await call(base, "GET", "/groups/movies/members", { token: tokens.dave })).body.items as { userId: string }[];
    assert.deepEqual(members.map((m) => m.userId).sort(), ["alice", "dave"]);
    assert.deepEqual((await call(base, "GET", "/groups/movies/join-requests", { token: tokens.alice })).body, { items: [], nextCursor: null });
  }
});
