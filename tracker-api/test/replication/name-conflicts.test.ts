import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { openDatabase } from "../../src/db/open.js";
import { boundNames } from "../../src/replication/apply-rules.js";
import { stateDigest } from "../../src/replication/digest.js";
import type { LoggedEvent } from "../../src/replication/events.js";
import { Replicator } from "../../src/replication/replicator.js";
import { at, cutIntoBatches, event, hlc, interleave, sha } from "./support/events.js";

// Three trackers cut apart make the same user id and the same group id, each
// with its own data; a session ended on one tracker made a group on another
// after its end; a group is deleted and gives its name back. Every tracker,
// whatever the order, batching and duplication of delivery, must name
// everyone alike and hold the same rows.

const A = "tracker-1.aaaa";
const B = "tracker-2.bbbb";
const C = "tracker-3.cccc";
const login = (tokenHash: string, userId: string, userHlc: string, wall: number) => ({
  type: "session.created" as const,
  payload: { tokenHash, userId, userHlc, peerAddress: "127.0.0.1:7001", createdAt: at(wall), expiresAt: at(90_000) },
});
const share = (groupId: string, groupHlc: string, userId: string, wall: number) => ({
  type: "file.shared" as const,
  payload: { groupId, groupHlc, fileName: "plans.pdf", size: 1, sha1: sha("a"), pieceSize: 524288, pieceHashes: JSON.stringify([sha("a")]), sharedAt: at(wall), userId, piecesHeld: 1 },
});

const fromA: LoggedEvent[] = [
  event(A, 1, 100, { type: "user.created", payload: { userId: "u:a", name: "dup", passwordHash: "hash-a", createdAt: at(100) } }),
  event(A, 2, 101, login("tok-a", "u:a", hlc(100, A), 101)),
  // Made with tok-a after C ended it (at 105): void.
  event(A, 3, 120, { type: "group.created", payload: { groupId: "g:a", name: "team", ownerId: "u:a", createdAt: at(120), after: null, by: "tok-a" } }),
  event(A, 4, 121, share("g:a", hlc(120, A), "u:a", 121)),
];
const fromB: LoggedEvent[] = [
  event(B, 1, 104, { type: "user.created", payload: { userId: "u:b", name: "dup", passwordHash: "hash-b", createdAt: at(104) } }),
  event(B, 2, 115, { type: "group.created", payload: { groupId: "g:b", name: "team", ownerId: "u:b", createdAt: at(115), after: null } }),
  event(B, 3, 130, share("g:b", hlc(115, B), "u:b", 130)),
  event(B, 4, 150, { type: "group.created", payload: { groupId: "g:b2", name: "crew", ownerId: "u:b", createdAt: at(150), after: null } }),
];
const fromC: LoggedEvent[] = [
  event(C, 1, 103, { type: "user.created", payload: { userId: "u:c", name: "dup", passwordHash: "hash-c", createdAt: at(103) } }),
  event(C, 2, 105, { type: "session.ended", payload: { tokenHash: "tok-a" } }),
  event(C, 3, 110, { type: "group.created", payload: { groupId: "g:c", name: "crew", ownerId: "u:c", createdAt: at(110), after: null } }),
  event(C, 4, 112, { type: "group.created", payload: { groupId: "g:c2", name: "team", ownerId: "u:c", createdAt: at(112), after: null } }),
  event(C, 5, 140, { type: "group.deleted", payload: { groupId: "g:c2", groupHlc: hlc(112, C), name: "team" } }),
];
const all = [...fromA, ...fromB, ...fromC];

const dir = await mkdtemp(join(tmpdir(), "names-"));
after(() => rm(dir, { recursive: true, force: true }));
let databases = 0;

/** A fresh tracker database given these deliveries: its digest, and who is called what. */
async function applied(batches: readonly LoggedEvent[][]): Promise<{ digest: string; users: string[][]; groups: string[][] }> {
  const db = await openDatabase(join(dir, `t${databases++}.db`));
  try {
    const replicator = new Replicator(db, { selfId: "tracker-4", origin: "tracker-4.dddd", peers: [], secret: "x".repeat(32) });
    for (const batch of batches) await replicator.receive(batch);
    const users = (await db.user.findMany({ orderBy: { name: "asc" } })).map((u) => [u.name, u.id]);
    const groups = (await db.group.findMany({ orderBy: { name: "asc" } })).map((g) => [g.name, g.id]);
    return { digest: await stateDigest(db), users, groups };
  } finally {
    await db.$disconnect();
  }
}

test("the earliest claim keeps a name, later ones get name~2, name~3; a deleted or void group gives its name back", async () => {
  const state = await applied([all]);
  assert.deepEqual(state.users, [["dup", "u:a"], ["dup~2", "u:c"], ["dup~3", "u:b"]]);
  // team: A's (void: its session had ended) and C's (deleted) gave it back, B's holds it; crew: C's is earlier than B's.
  assert.deepEqual(state.groups, [["crew", "g:c"], ["crew~2", "g:b2"], ["team", "g:b"]]);
});

test("names are a function of the claims alone", () => {
  const register = (claims: { id: string; hlc: string }[], released: string[] = []) =>
    ({ kind: "userName" as const, groupId: "", incarnation: "", fileName: "x", userId: "", hlc: "", live: true, value: { claims, released } });
  const claims = [{ id: "u:2", hlc: hlc(5, A) }, { id: "u:1", hlc: hlc(5, A) }, { id: "u:3", hlc: hlc(3, B) }];
  assert.deepEqual([...boundNames("x", register(claims))], [["u:3", "x"], ["u:1", "x~2"], ["u:2", "x~3"]]);
  assert.deepEqual([...boundNames("x", register(claims, [hlc(3, B)]))], [["u:1", "x"], ["u:2", "x~2"]]);
});

test("any interleaving, batching and duplication of the three trackers' events gives the same rows and names", async () => {
  const expected = await applied([all]);
  assert.deepEqual(await applied([[...fromC, ...fromB, ...fromA]]), expected);
  assert.deepEqual(await applied([fromA, fromB, fromC, all]), expected);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 0, max: 2 }), { minLength: all.length, maxLength: all.length }),
      fc.array(fc.integer({ min: 1, max: all.length - 1 }), { maxLength: 6 }),
      fc.array(fc.integer({ min: 0, max: all.length - 1 }), { maxLength: 6 }),
      async (picks, cuts, again) => {
        const batches = cutIntoBatches(interleave([fromA, fromB, fromC], picks), cuts);
        // Duplicates: events delivered again, later, alone or with others.
        const redelivered = again.map((i) => all[i]!);
        const deliveries = batches.flatMap((batch, i) => (i === 1 ? [batch, redelivered] : [batch]));
        assert.deepEqual(await applied(deliveries), expected);
      },
    ),
    { numRuns: 25 },
  );
});
