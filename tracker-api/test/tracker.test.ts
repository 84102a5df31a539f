import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, type TrackerDb } from "../src/db/open.js";
import { loadGrantKey } from "../src/grant-key.js";
import { stateDigest } from "../src/replication/digest.js";
import { Replicator } from "../src/replication/replicator.js";
import * as files from "../src/services/files.js";
import * as groups from "../src/services/groups.js";
import { authenticate, login, logout } from "../src/services/sessions.js";
import { createUser } from "../src/services/users.js";
import { createTracker, type Tracker } from "../src/tracker.js";

const dir = await mkdtemp(join(tmpdir(), "tracker-object-"));
const databases: TrackerDb[] = [];
after(async () => {
  for (const db of databases) await db.$disconnect();
  await rm(dir, { recursive: true, force: true });
});

async function newTracker(id: string, clock?: () => number): Promise<Tracker> {
  const db = await openDatabase(join(dir, `${id}.db`));
  databases.push(db);
  return createTracker({ db, id, grantKey: await loadGrantKey(id), ...(clock ? { clock } : {}) });
}

/** A new account on `tracker`, logged in: the actor its services take. */
async function signedUp(tracker: Tracker, userId: string) {
  await createUser(tracker, { userId, password: "pw" });
  const { token } = await login(tracker, { userId, password: "pw", peerAddress: "127.0.0.1:7001" }, "127.0.0.1");
  return authenticate(tracker, `Bearer ${token}`);
}

const HASH = "a".repeat(40);
const share = (fileName: string) => ({ fileName, size: 1024, sha1: HASH, pieceSize: 524288, pieceHashes: [HASH] });

test("two trackers in one process keep their own state: a session one of them knows is unknown to the other", async () => {
  const one = await newTracker("tracker-1");
  const other = await newTracker("tracker-2");
  await createUser(one, { userId: "alice", password: "pw" });
  const { token } = await login(one, { userId: "alice", password: "pw", peerAddress: "127.0.0.1:7001" }, "127.0.0.1");
  assert.equal((await authenticate(one, `Bearer ${token}`)).name, "alice");
  await assert.rejects(authenticate(other, `Bearer ${token}`), { code: "SESSION_INVALID" });
  one.close();
  other.close();
});

test("a local write and the same events replicated leave the same rows, and the write's own caches forget what it changed", async () => {
  const local = await newTracker("tracker-3");
  const alice = await signedUp(local, "alice");
  const bob = await signedUp(local, "bob");
  await groups.createGroup(local, alice, "movies");
  await groups.requestJoin(local, bob, "movies");
  await groups.acceptJoin(local, alice, "movies", "bob");
  await files.shareFile(local, alice, "movies", share("a.bin"));
  const listed = await files.listFiles(local, bob, "movies", { limit: 10 });
  await files.shareFile(local, bob, "movies", share("a.bin"));
  await files.shareFile(local, bob, "movies", share("b.bin"));
  await files.stopSharing(local, alice, "movies", "a.bin");
  // The listing was cached before the shares: the projection told the cache.
  const relisted = JSON.parse((await files.listFiles(local, bob, "movies", { limit: 10 })).body.toString()) as { items: { fileName: string; sharedBy: string[] }[] };
  assert.notDeepEqual(relisted, JSON.parse(listed.body.toString()));
  assert.deepEqual(relisted.items.map((f) => [f.fileName, f.sharedBy]), [["a.bin", ["bob"]], ["b.bin", ["bob"]]]);
  await groups.leaveGroup(local, alice, "movies", "alice");
  await logout(local, alice.tokenHash);

  const events = (await local.db.event.findMany({ orderBy: { seq: "asc" } })).map((e) => ({ ...e, payload: JSON.parse(e.payload) as object }));
  const copy = await newTracker("tracker-4");
  const replicator = new Replicator(copy.db, { selfId: "tracker-4", peers: [], secret: "x".repeat(32) });
  assert.equal((await replicator.receive(events as never)).gap, false);
  assert.equal(await stateDigest(copy.db), await stateDigest(local.db));
  local.close();
  copy.close();
});

test("every time a tracker records or answers comes from its clock", async () => {
  const at = Date.UTC(2031, 0, 2, 3, 4, 5);
  const tracker = await newTracker("tracker-5", () => at);
  const alice = await signedUp(tracker, "alice");
  const bob = await signedUp(tracker, "bob");
  await groups.createGroup(tracker, alice, "movies");
  await groups.requestJoin(tracker, bob, "movies");
  const request = await tracker.db.joinRequest.findFirstOrThrow();
  await groups.acceptJoin(tracker, alice, "movies", "bob");
  await files.shareFile(tracker, alice, "movies", share("a.bin"));
  const { db } = tracker;
  const times = [
    ...(await db.user.findMany()).map((u) => u.createdAt),
    ...(await db.session.findMany()).flatMap((s) => [s.createdAt, s.lastSeenAt]),
    (await db.group.findFirstOrThrow()).createdAt,
    request.requestedAt,
    ...(await db.membership.findMany()).map((m) => m.joinedAt),
    (await db.sharedFile.findFirstOrThrow()).sharedAt,
    ...(await db.holding.findMany()).map((h) => h.updatedAt),
  ];
  assert.deepEqual(times.map((t) => t.getTime()), times.map(() => at));
  // Alice counts as online at the tracker's time, not at the machine's.
  const { peers } = await files.peersOf(tracker, bob, "movies", "a.bin");
  assert.deepEqual(peers.map((p) => p.userId), ["alice"]);
  tracker.close();
});
