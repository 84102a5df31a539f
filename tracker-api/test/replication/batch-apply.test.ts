import { after, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { LoggedEvent } from "../../src/replication/events.js";
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
