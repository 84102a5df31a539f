import { after, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { replacedIncarnation, sessionLives, type Register } from "../../src/replication/apply-rules.js";
import type { LoggedEvent } from "../../src/replication/events.js";
import { at, createApplier, cutIntoBatches, event, findRegister, fold, groupView, hlc, interleave, sha } from "./support/events.js";

// Three trackers whose events depend on each other's (B saw A's, C saw A's and
// B's): a relay through a third tracker can bring an event before the one it
// depends on. Whatever the order, every tracker must end in the same state.

const A = "tracker-1";
const B = "tracker-2";
const C = "tracker-3";
const share = (groupId: string, groupHlc: string, userId: string, sha1: string, wall: number) => ({
  type: "file.shared" as const,
  payload: { groupId, groupHlc, fileName: "f", size: 1, sha1, pieceSize: 524288, pieceHashes: JSON.stringify([sha1]), sharedAt: at(wall), userId, piecesHeld: 1 },
});
const gA = hlc(100, A);
const gC = hlc(140, C);
const hA = hlc(160, A);
const hC = hlc(158, C);
const kB = hlc(200, B);
const nA = hlc(250, A);
const mA = hlc(260, A);
const uA = hlc(290, A);
const uC = hlc(295, C);
const login = (tokenHash: string, userHlc: string, wall: number) => ({
  type: "session.created" as const,
  payload: { tokenHash, userId: "alice", userHlc, peerAddress: "127.0.0.1:7001", createdAt: at(wall), expiresAt: at(90_000) },
});

const fromA: LoggedEvent[] = [
  event(A, 1, 100, { type: "group.created", payload: { groupId: "g", name: "g", ownerId: "alice", createdAt: at(100), after: null } }),
  event(A, 2, 110, { type: "membership.added", payload: { groupId: "g", groupHlc: gA, userId: "bob", joinedAt: at(110) } }),
  // Concurrent with the deletion on C: made under the incarnation C ends.
  event(A, 3, 135, { type: "membership.added", payload: { groupId: "g", groupHlc: gA, userId: "frank", joinedAt: at(135) } }),
  // Concurrent with C's creation of the same id, which is earlier.
  event(A, 4, 160, { type: "group.created", payload: { groupId: "h", name: "h", ownerId: "alice", createdAt: at(160), after: null } }),
  event(A, 5, 165, { type: "joinRequest.created", payload: { groupId: "h", groupHlc: hA, userId: "erin", requestedAt: at(165) } }),
  // A saw B delete k and makes it again.
  event(A, 6, 220, { type: "group.created", payload: { groupId: "k", name: "k", ownerId: "alice", createdAt: at(220), after: kB } }),
  // Groups the others then change or delete.
  event(A, 7, 250, { type: "group.created", payload: { groupId: "n", name: "n", ownerId: "alice", createdAt: at(250), after: null } }),
  event(A, 8, 260, { type: "group.created", payload: { groupId: "m", name: "m", ownerId: "alice", createdAt: at(260), after: null } }),
  // The same user id made here and on C: this creation is earlier and keeps it.
  event(A, 9, 290, { type: "user.created", payload: { userId: "alice", name: "alice", passwordHash: "hash-a", createdAt: at(290) } }),
  event(A, 10, 305, login("token-a", uA, 305)),
];
const fromB: LoggedEvent[] = [
  // B saw A's group g: alice leaves (bob inherits), bob shares a file.
  event(B, 1, 120, { type: "membership.removed", payload: { groupId: "g", groupHlc: gA, userId: "alice" } }),
  event(B, 2, 121, { type: "group.ownerChanged", payload: { groupId: "g", groupHlc: gA, ownerId: "bob" } }),
  event(B, 3, 125, share("g", gA, "bob", sha("a"), 125)),
  // B saw C's new g: erin joins it and shares.
  event(B, 4, 150, { type: "membership.added", payload: { groupId: "g", groupHlc: gC, userId: "erin", joinedAt: at(150) } }),
  event(B, 5, 155, share("g", gC, "erin", sha("b"), 155)),
  event(B, 6, 200, { type: "group.created", payload: { groupId: "k", name: "k", ownerId: "bob", createdAt: at(200), after: null } }),
  event(B, 7, 210, { type: "group.deleted", payload: { groupId: "k", groupHlc: kB, name: "k" } }),
  event(B, 8, 256, share("n", nA, "alice", sha("c"), 256)),
  // B saw A's account: a login there, which ends on C.
  event(B, 9, 310, login("token-b", uA, 310)),
  // And C's account: a login that ends when A's earlier creation arrives, even when it came before both creations.
  event(B, 10, 312, login("token-d", uC, 312)),
];
const fromC: LoggedEvent[] = [
  // C saw A's and B's events on g: the last member leaves, the group goes, dave makes it again.
  event(C, 1, 130, { type: "membership.removed", payload: { groupId: "g", groupHlc: gA, userId: "bob" } }),
  event(C, 2, 131, { type: "group.deleted", payload: { groupId: "g", groupHlc: gA, name: "g" } }),
  event(C, 3, 140, { type: "group.created", payload: { groupId: "g", name: "g", ownerId: "dave", createdAt: at(140), after: gA } }),
  event(C, 4, 158, { type: "group.created", payload: { groupId: "h", name: "h", ownerId: "carol", createdAt: at(158), after: null } }),
  event(C, 5, 159, { type: "group.deleted", payload: { groupId: "h", groupHlc: hC, name: "h" } }),
  // C saw B's k before its deletion.
  event(C, 6, 205, { type: "joinRequest.created", payload: { groupId: "k", groupHlc: kB, userId: "zed", requestedAt: at(205) } }),
  event(C, 7, 255, { type: "joinRequest.created", payload: { groupId: "n", groupHlc: nA, userId: "zed", requestedAt: at(255) } }),
  event(C, 8, 265, { type: "group.deleted", payload: { groupId: "m", groupHlc: mA, name: "m" } }),
  event(C, 9, 295, { type: "user.created", payload: { userId: "alice", name: "alice", passwordHash: "hash-c", createdAt: at(295) } }),
  event(C, 10, 300, login("token-c", uC, 300)),
  event(C, 11, 320, { type: "session.ended", payload: { tokenHash: "token-b" } }),
];
const all = [...fromA, ...fromB, ...fromC];

const canonical = (registers: Map<string, Register>) => JSON.stringify([...registers.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

test("the registers of three trackers' causally related events are the same in every arrival order, even against causality", () => {
  const expected = canonical(fold(all));
  fc.assert(
    fc.property(fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }), (order) => {
      assert.equal(canonical(fold(order)), expected);
    }),
    { numRuns: 500 },
  );
});

test("a group deletion seen before the creation it names leaves the group deleted", () => {
  const created = fromB[5]!;
  const deleted = fromB[6]!;
  assert.equal(groupView(fold([deleted, created]), "k"), undefined);
  assert.equal(groupView(fold([created, deleted]), "k"), undefined);
});

test("a session ended before its login arrived stays ended, and a login to the account that lost its id never stands", () => {
  const registers = fold([fromC[10]!, fromB[8]!, fromC[9]!, fromA[9]!]);
  const session = (t: string) => findRegister(registers, "session", "", "", t, "");
  const user = findRegister(registers, "user", "", "", "", "alice");
  assert.equal(user, undefined);
  const all = fold([fromA[8]!, fromC[8]!, fromC[9]!, fromA[9]!, fromB[8]!, fromC[10]!]);
  const alice = findRegister(all, "user", "", "", "", "alice");
  assert.equal(sessionLives(session("token-b"), alice), false);
  assert.equal(sessionLives(session("token-c"), alice), false);
  assert.equal(sessionLives(findRegister(all, "session", "", "", "token-a", ""), alice), true);
});

test("a re-creation seen before the deletion and the creation it replaced is the group", () => {
  const recreated = fromC[2]!;
  const orders = [[recreated, fromA[0]!, fromC[1]!], [fromC[1]!, recreated, fromA[0]!], [fromA[0]!, recreated]];
  for (const order of orders) assert.deepEqual(groupView(fold(order), "g")?.group, { id: "g", ownerId: "dave", createdAt: at(140) });
});

test("with every event seen, the re-created group, the deleted one and the earlier of two concurrent creations decide", () => {
  const registers = fold(all);
  assert.deepEqual(groupView(registers, "g"), {
    group: { id: "g", ownerId: "dave", createdAt: at(140) },
    members: [{ userId: "dave", joinedAt: at(140) }, { userId: "erin", joinedAt: at(150) }],
  });
  // C's h was earlier than A's and was deleted: A's concurrent creation lost, so h is gone.
  assert.equal(groupView(registers, "h"), undefined);
  assert.deepEqual(groupView(registers, "k")?.group, { id: "k", ownerId: "alice", createdAt: at(220) });
  assert.equal(groupView(registers, "m"), undefined);
});

test("a group made on a tracker that saw only the deletion of the id replaces the deleted one when its creation arrives", () => {
  const deletedOnly = fold([fromB[6]!]);
  const register = findRegister(deletedOnly, "group", "k", "", "", "");
  const after = replacedIncarnation(register);
  assert.equal(after, kB);
  const mine = event(C, 9, 230, { type: "group.created", payload: { groupId: "k", name: "k", ownerId: "carol", createdAt: at(230), after } });
  for (const order of [[fromB[6]!, mine, fromB[5]!], [fromB[5]!, fromB[6]!, mine]]) {
    assert.deepEqual(groupView(fold(order), "k")?.group, { id: "k", ownerId: "carol", createdAt: at(230) });
  }
});

// The same through a real database: per-origin order (as delivery keeps), any interleaving of the three, any batching.

const { applied, close } = await createApplier("tracker-4");
after(close);

const arrival = (picks: readonly number[], cuts: readonly number[]) => cutIntoBatches(interleave([fromA, fromB, fromC], picks), cuts);

test("a tracker's rows do not depend on how three trackers' events were interleaved or batched", async () => {
  const expected = await applied(all.map((e) => [e]));
  // Causal order (each origin after what it saw) gives the same rows as the worst relay orders.
  assert.equal(await applied([[...fromA.slice(0, 2), ...fromB.slice(0, 3), ...fromC.slice(0, 3), ...fromB.slice(3), ...fromC.slice(3), ...fromA.slice(2)]]), expected);
  assert.equal(await applied([[...fromC, ...fromB, ...fromA]]), expected);
  assert.equal(await applied([fromC, fromB, fromA]), expected);
  assert.equal(await applied([fromB, fromA, fromC]), expected);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 2 }), { minLength: all.length, maxLength: all.length }),
      fc.array(fc.integer({ min: 1, max: all.length - 1 }), { maxLength: 8 }),
      async (picks, cuts) => {
        assert.equal(await applied(arrival(picks, cuts)), expected);
      },
    ),
    { numRuns: 25 },
  );
});
