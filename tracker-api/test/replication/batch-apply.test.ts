import { after, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/db/open.js";
import type { LoggedEvent } from "../../src/replication/events.js";
import { Replicator } from "../../src/replication/replicator.js";
import { at, createApplier, cutIntoBatches, event, hlc, interleave, sha } from "./support/events.js";

// Events of two trackers that wrote while cut off from each other (every kind of
// conflict), applied by a third tracker's database in batches of every size and
// arrival order: the rows (the state digest) must not depend on how they came.

const A = "tracker-1";
const B = "tracker-2";
const share = (groupHlc: string, userId: string, sha1: string, wall: number, fileName = "f") => ({
  type: "file.shared" as const,
  payload: { groupId: "g", groupHlc, fileName, size: 1, sha1, pieceSize: 524288, pieceHashes: JSON.stringify([sha1]), sharedAt: at(wall), userId, piecesHeld: 1 },
});
const gA = hlc(110, A);
const gB = hlc(115, B);
const hA = hlc(170, A);

const fromA: LoggedEvent[] = [
  event(A, 1, 100, { type: "user.created", payload: { userId: "alice", name: "alice", passwordHash: "hash-a", createdAt: at(100) } }),
  event(A, 2, 101, {
    type: "session.created",
    payload: { tokenHash: "token-a", userId: "alice", userHlc: hlc(100, A), peerAddress: "127.0.0.1:7001", createdAt: at(101), expiresAt: at(90_000) },
  }),
  event(A, 3, 110, { type: "group.created", payload: { groupId: "g", name: "g", ownerId: "alice", createdAt: at(110), after: null } }),
  event(A, 4, 120, { type: "membership.added", payload: { groupId: "g", groupHlc: gA, userId: "bob", joinedAt: at(120) } }),
  event(A, 5, 130, share(gA, "alice", sha("a"), 130)),
  event(A, 6, 131, share(gA, "bob", sha("a"), 131, "other")),
  event(A, 7, 140, { type: "joinRequest.created", payload: { groupId: "g", groupHlc: gA, userId: "frank", requestedAt: at(140) } }),
  event(A, 8, 150, { type: "holding.removed", payload: { groupId: "g", groupHlc: gA, fileName: "f", userId: "alice" } }),
  event(A, 9, 160, { type: "group.ownerChanged", payload: { groupId: "g", groupHlc: gA, ownerId: "bob" } }),
  event(A, 10, 170, { type: "group.created", payload: { groupId: "h", name: "h", ownerId: "alice", createdAt: at(170), after: null } }),
  event(A, 11, 180, { type: "group.deleted", payload: { groupId: "h", groupHlc: hA, name: "h" } }),
  event(A, 12, 190, { type: "session.ended", payload: { tokenHash: "token-a" } }),
  // Erin leaves on A, which never saw her share (B's event 9): the share ends with the leave.
  event(A, 13, 195, { type: "membership.removed", payload: { groupId: "g", groupHlc: gA, userId: "erin" } }),
];
const fromB: LoggedEvent[] = [
  event(B, 1, 105, { type: "user.created", payload: { userId: "alice", name: "alice", passwordHash: "hash-b", createdAt: at(105) } }),
  event(B, 2, 106, {
    type: "session.created",
    payload: { tokenHash: "token-b", userId: "alice", userHlc: hlc(105, B), peerAddress: "127.0.0.1:7002", createdAt: at(106), expiresAt: at(90_000) },
  }),
  event(B, 3, 115, { type: "group.created", payload: { groupId: "g", name: "g", ownerId: "carol", createdAt: at(115), after: null } }),
  event(B, 4, 125, { type: "membership.added", payload: { groupId: "g", groupHlc: gB, userId: "dave", joinedAt: at(125) } }),
  event(B, 5, 135, share(gB, "carol", sha("b"), 135)),
  event(B, 6, 141, { type: "membership.added", payload: { groupId: "g", groupHlc: gA, userId: "erin", joinedAt: at(141) } }),
  event(B, 7, 145, { type: "joinRequest.accepted", payload: { groupId: "g", groupHlc: gA, userId: "frank" } }),
  event(B, 8, 146, { type: "membership.added", payload: { groupId: "g", groupHlc: gA, userId: "frank", joinedAt: at(146) } }),
  event(B, 9, 155, share(gA, "erin", sha("a"), 155)),
  event(B, 10, 185, { type: "group.created", payload: { groupId: "h", name: "h", ownerId: "dave", createdAt: at(185), after: hA } }),
];

/** A third tracker's database after receiving the batches in order. */
const { applied, close } = await createApplier("tracker-3");
after(close);

/** An arrival order that keeps each tracker's own events in sequence, as delivery does, cut into batches. */
const arrival = (picks: readonly boolean[], cuts: readonly number[]) =>
  cutIntoBatches(interleave([fromA, fromB], picks.map((pickA) => (pickA ? 0 : 1))), cuts);

test("events applied one at a time and all in one batch leave the same rows", async () => {
  const oneByOne = await applied([...fromA, ...fromB].map((e) => [e]));
  assert.equal(await applied([[...fromA, ...fromB]]), oneByOne);
});

test("the rows a tracker holds do not depend on how the other trackers' events were batched or interleaved", async () => {
  const expected = await applied([...fromA, ...fromB].map((e) => [e]));
  const total = fromA.length + fromB.length;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.boolean(), { minLength: total, maxLength: total }),
      fc.array(fc.integer({ min: 1, max: total - 1 }), { maxLength: 8 }),
      async (picks, cuts) => {
        assert.equal(await applied(arrival(picks, cuts)), expected);
      },
    ),
    { numRuns: 25 },
  );
});

// A holder's share acknowledged by one tracker, which died before pushing it; the
// holder then left on another tracker, which listed only the holdings it knew of.
const C = "tracker-c";
const gC = hlc(10, C);
const setUp: LoggedEvent[] = [
  event(C, 1, 10, { type: "group.created", payload: { groupId: "g", name: "g", ownerId: "alice", createdAt: at(10), after: null } }),
  event(C, 2, 20, { type: "membership.added", payload: { groupId: "g", groupHlc: gC, userId: "bob", joinedAt: at(20) } }),
  event(C, 3, 25, share(gC, "alice", sha("a"), 25, "kept")),
];
const lateShare = event(B, 1, 30, share(gC, "bob", sha("b"), 30, "late"));
const leave = event(C, 4, 40, { type: "membership.removed", payload: { groupId: "g", groupHlc: gC, userId: "bob" } });
const rejoin = event(C, 5, 50, { type: "membership.added", payload: { groupId: "g", groupHlc: gC, userId: "bob", joinedAt: at(50) } });

test("a share made before a leave stays ended when it arrives after the leave", async () => {
  const withoutShare = await applied([[...setUp, leave]]);
  assert.equal(await applied([[...setUp, leave], [lateShare]]), withoutShare);
  assert.equal(await applied([[...setUp, leave, lateShare]]), withoutShare);
});

test("a leave ends the holder's shares it did not list, whichever arrives first", async () => {
  const withoutShare = await applied([[...setUp, leave]]);
  assert.equal(await applied([[...setUp, lateShare], [leave]]), withoutShare);
  assert.notEqual(await applied([[...setUp, lateShare]]), withoutShare, "the share alone is listed");
});

test("a share from before a leave stays ended after the holder rejoins", async () => {
  const rejoined = await applied([[...setUp, leave, rejoin]]);
  assert.equal(await applied([[...setUp, leave, rejoin], [lateShare]]), rejoined);
  assert.equal(await applied([[...setUp, lateShare], [leave], [rejoin]]), rejoined);
});

test("a share made after a rejoin stands, whatever came before it", async () => {
  const afterRejoin = event(C, 6, 60, share(gC, "bob", sha("b"), 60, "late"));
  const withShare = await applied([[...setUp, leave, rejoin, afterRejoin]]);
  assert.notEqual(withShare, await applied([[...setUp, leave, rejoin]]));
  assert.equal(await applied([[...setUp, lateShare, leave, rejoin, afterRejoin]]), withShare);
  assert.equal(await applied([[...setUp, leave, rejoin, afterRejoin], [lateShare]]), withShare);
});

test("a batch delivered again is skipped without a transaction, and only its new events are applied", async () => {
  const dir = await mkdtemp(join(tmpdir(), "batch-again-"));
  let statements = 0;
  const db = await openDatabase(join(dir, "t.db"), { watchStatements: () => { statements++; } });
  const replicator = new Replicator(db, { selfId: "tracker-3", peers: [], secret: "x".repeat(32) });
  try {
    await replicator.receive(fromA.slice(0, 3));
    statements = 0;
    // The API processes of a tracker on PostgreSQL each push what their siblings committed: the same events again.
    const again = await replicator.receive(fromA.slice(0, 3));
    assert.equal(statements, 0, "nothing read or written for events applied already");
    assert.deepEqual(again, { heads: { [A]: 3 }, gap: false });
    const more = await replicator.receive(fromA.slice(0, 4));
    assert.deepEqual(more, { heads: { [A]: 4 }, gap: false });
    assert.equal((await db.membership.findMany()).length, 2, "the new event was applied");
  } finally {
    await db.$disconnect();
    await rm(dir, { recursive: true, force: true });
  }
});
