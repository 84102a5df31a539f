import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { effectiveOwner, fileState, holdingAfterRemovals, lastRemoval, registerWrites, sessionStands } from "../../src/replication/apply-rules.js";
import type { LoggedEvent } from "../../src/replication/events.js";
import { event, findRegister as find, fold, groupView, hlc, interleave, sha } from "./support/events.js";

const A = "tracker-1";
const B = "tracker-2";

const gA = hlc(110, A);
const gB = hlc(115, B);
const hA = hlc(170, A);
const share = (groupHlc: string, userId: string, sha1: string, at: string) => ({
  type: "file.shared" as const,
  payload: { groupId: "g", groupHlc, fileName: "f", size: 1, sha1, pieceSize: 524288, pieceHashes: "[]", sharedAt: at, userId, piecesHeld: 1 },
});

/** Two trackers writing while partitioned: every kind of conflict at once. */
const fromA: LoggedEvent[] = [
  event(A, 1, 100, { type: "user.created", payload: { userId: "alice", name: "alice", passwordHash: "hash-a", createdAt: "t" } }),
  event(A, 2, 110, { type: "group.created", payload: { groupId: "g", name: "g", ownerId: "alice", createdAt: "t110", after: null } }),
  event(A, 3, 120, { type: "membership.added", payload: { groupId: "g", groupHlc: gA, userId: "bob", joinedAt: "t120" } }),
  event(A, 4, 130, share(gA, "alice", sha("a"), "t130")),
  event(A, 5, 150, { type: "holding.removed", payload: { groupId: "g", groupHlc: gA, fileName: "f", userId: "alice" } }),
  event(A, 6, 160, { type: "group.ownerChanged", payload: { groupId: "g", groupHlc: gA, ownerId: "bob" } }),
  event(A, 7, 170, { type: "group.created", payload: { groupId: "h", name: "h", ownerId: "alice", createdAt: "t170", after: null } }),
  event(A, 8, 180, { type: "group.deleted", payload: { groupId: "h", groupHlc: hA, name: "h" } }),
];
const fromB: LoggedEvent[] = [
  event(B, 1, 105, { type: "user.created", payload: { userId: "alice", name: "alice", passwordHash: "hash-b", createdAt: "t" } }),
  event(B, 2, 115, { type: "group.created", payload: { groupId: "g", name: "g", ownerId: "carol", createdAt: "t115", after: null } }),
  event(B, 3, 125, { type: "membership.added", payload: { groupId: "g", groupHlc: gB, userId: "dave", joinedAt: "t125" } }),
  event(B, 4, 135, share(gB, "carol", sha("b"), "t135")),
  event(B, 5, 140, { type: "membership.added", payload: { groupId: "g", groupHlc: gA, userId: "erin", joinedAt: "t140" } }),
  event(B, 6, 155, share(gA, "erin", sha("a"), "t155")),
];

test("the same events in any arrival order give the same registers", () => {
  const reference = fold(interleave([fromA, fromB], []));
  fc.assert(
    fc.property(fc.array(fc.boolean(), { maxLength: fromA.length + fromB.length }), (picks) => {
      assert.deepEqual(fold(interleave([fromA, fromB], picks.map((pickA) => (pickA ? 0 : 1)))), reference);
    }),
    { numRuns: 300 },
  );
});

test("applying an event twice changes nothing", () => {
  const once = fold([...fromA, ...fromB]);
  assert.deepEqual(fold([...fromA, ...fromB, ...fromB, ...fromA]), once);
});

test("a user id created on two trackers keeps the creation with the lowest HLC", () => {
  const registers = fold([...fromB, ...fromA]);
  assert.equal(find(registers, "user", "", "", "", "alice")!.value.passwordHash, "hash-a");
});

test("a group id created on two trackers keeps the earliest creation and only its members", () => {
  const registers = fold([...fromB, ...fromA]);
  const view = groupView(registers, "g")!;
  assert.equal(find(registers, "group", "g")!.hlc, gA);
  assert.deepEqual(view.members.map((m) => m.userId), ["alice", "bob", "erin"]);
  assert.equal(view.group.ownerId, "bob");
});

test("a file keeps the holders of its content under the winning group creation only", () => {
  const registers = fold([...fromB, ...fromA]);
  const all = [...registers.values()];
  const state = fileState(find(registers, "group", "g"), find(registers, "file", "g", gA, "f"), all.filter((r) => r.kind === "holding" && r.incarnation === gA));
  assert.deepEqual(state?.holdings.map((h) => h.userId), ["erin"]);
  assert.equal(state?.file.sha1, sha("a"));
});

test("a deleted group stays deleted when nothing recreated it", () => {
  assert.equal(groupView(fold([...fromA, ...fromB]), "h"), undefined);
});

test("a group created again after its deletion was seen replaces the deleted one, whatever arrives first", () => {
  const again = event(B, 7, 200, { type: "group.created", payload: { groupId: "h", name: "h", ownerId: "zoe", createdAt: "t200", after: hA } });
  for (const order of [[...fromA, again], [fromA[6]!, again, fromA[7]!]]) {
    assert.equal(groupView(fold(order), "h")?.group.ownerId, "zoe");
  }
});

test("share and unshare of the same holding: the later write wins in either order", () => {
  const shared = event(A, 1, 300, share(gA, "alice", sha("a"), "t300"));
  const unshared = event(B, 1, 301, { type: "holding.removed", payload: { groupId: "g", groupHlc: gA, fileName: "f", userId: "alice" } });
  const holding = (events: LoggedEvent[]) => find(fold(events), "holding", "g", gA, "f", "alice")!.live;
  assert.equal(holding([shared, unshared]), false);
  assert.equal(holding([unshared, shared]), false);
});

test("concurrent ownership changes keep the later one", () => {
  const toBob = event(A, 1, 400, { type: "group.ownerChanged", payload: { groupId: "g", groupHlc: gA, ownerId: "bob" } });
  const toErin = event(B, 1, 401, { type: "group.ownerChanged", payload: { groupId: "g", groupHlc: gA, ownerId: "erin" } });
  assert.equal(find(fold([toErin, toBob]), "owner", "g", gA)!.value.ownerId, "erin");
  assert.equal(find(fold([toBob, toErin]), "owner", "g", gA)!.value.ownerId, "erin");
});

test("an owner who is no longer a member hands the group to the member who joined earliest", () => {
  const members = [{ userId: "zoe", joinedAt: "2026-01-02" }, { userId: "yan", joinedAt: "2026-01-01" }];
  assert.equal(effectiveOwner("xavier", members), "yan");
  assert.equal(effectiveOwner("zoe", members), "zoe");
  assert.equal(effectiveOwner("xavier", []), "xavier");
});

test("a session issued against the account that lost its id does not stand", () => {
  const user = find(fold(fromA), "user", "", "", "", "alice");
  assert.equal(sessionStands(user, hlc(100, A)), true);
  assert.equal(sessionStands(user, hlc(105, B)), false);
  assert.equal(sessionStands(undefined, hlc(105, B)), true);
});

test("a member register keeps the latest removal after a rejoin, in either order", () => {
  const leave = event(A, 20, 150, { type: "membership.removed", payload: { groupId: "g", groupHlc: gA, userId: "bob" } });
  const rejoin = event(B, 20, 160, { type: "membership.added", payload: { groupId: "g", groupHlc: gA, userId: "bob", joinedAt: "t160" } });
  for (const order of [[leave, rejoin], [rejoin, leave]]) {
    const member = find(fold([...fromA, ...order]), "member", "g", gA, "", "bob");
    assert.equal(member?.live, true);
    assert.equal(lastRemoval(member), hlc(150, A));
  }
});

test("a holding written before its holder's latest removal becomes that removal's dead write", () => {
  const member = find(fold([...fromA, event(A, 20, 150, { type: "membership.removed", payload: { groupId: "g", groupHlc: gA, userId: "bob" } })]), "member", "g", gA, "", "bob");
  const [, before] = registerWrites(event(B, 20, 140, share(gA, "bob", sha("a"), "t140")));
  const [, afterwards] = registerWrites(event(B, 21, 155, share(gA, "bob", sha("a"), "t155")));
  assert.deepEqual(holdingAfterRemovals(before!, member), { ...before!, hlc: hlc(150, A), live: false, value: {} });
  assert.deepEqual(holdingAfterRemovals(afterwards!, member), afterwards);
});
