/**
 * No SQL statement binds more values than the database driver takes
 * (MAX_BOUND_VALUES), whatever one user owns: before, a user with
 * about a thousand groups made `GET /groups?limit=1000` fail with 500 for
 * everyone. One user owns 5000 groups and shares 20,000 files; every list,
 * login, announce and leave is driven over them and every statement watched.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import request from "supertest";
import type { LoggedEvent } from "../src/replication/events.js";
import { Replicator } from "../src/replication/replicator.js";
import { event } from "./replication/support/events.js";
import { startTrackerApp, userIdOf } from "./support/tracker-app.js";

/**
 * The most values one SQL statement may bind: SQLite as bundled here refuses
 * a statement with more than 999 (PostgreSQL: 65535). A fact of the driver,
 * not a tunable: no statement the tracker makes may come near it, whatever a
 * user owns.
 */
const MAX_BOUND_VALUES = 999;

const GROUPS = 5000;
const FILES = 20_000;
/** Most files go to one group, so that its file list and the leave of it are long; one file in each other group. */
const BIG_GROUP = "g0000";
const sha = (n: number) => n.toString(16).padStart(40, "0");

let tracker: Awaited<ReturnType<typeof startTrackerApp>>;
let token: string;
/** The statement that bound the most values so far. */
let widest = { sql: "", boundValues: 0 };

before(async () => {
  tracker = await startTrackerApp({
    quotas: { groupsOwned: GROUPS, filesShared: FILES },
    watchStatements: (statement) => {
      if (statement.boundValues > widest.boundValues) widest = statement;
    },
  });
  await request(tracker.app).post("/users").send({ userId: "hoarder", password: "pw" }).expect(201);
  token = (await request(tracker.app).post("/sessions").send({ userId: "hoarder", password: "pw", peerAddress: "127.0.0.1:7001" }).expect(201)).body.token;
  // The groups and files arrive as another tracker's events, applied by the same projection as local writes, a batch at a time:
  // 25,000 writes through HTTP would take minutes.
  const owner = await userIdOf(tracker.db, "hoarder");
  const events: LoggedEvent[] = [];
  const wall = Date.now() - 3_600_000;
  const groupHlc = new Map<string, string>();
  for (let g = 0; g < GROUPS; g++) {
    const name = `g${String(g).padStart(4, "0")}`;
    const created = event("tracker-bulk", events.length + 1, wall + events.length, {
      type: "group.created", payload: { groupId: `bulk:${name}`, name, ownerId: owner, createdAt: new Date().toISOString(), after: null },
    } as never);
    groupHlc.set(name, created.hlc);
    events.push(created);
  }
  for (let f = 0; f < FILES; f++) {
    const name = f < FILES - GROUPS + 1 ? BIG_GROUP : `g${String(f - (FILES - GROUPS)).padStart(4, "0")}`;
    events.push(event("tracker-bulk", events.length + 1, wall + events.length, {
      type: "file.shared",
      payload: {
        groupId: `bulk:${name}`, groupHlc: groupHlc.get(name)!, fileName: `f${f}.bin`, size: 1000, sha1: sha(f), pieceSize: 524288,
        pieceHashes: JSON.stringify([sha(f)]), sharedAt: new Date().toISOString(), userId: owner, piecesHeld: 1,
      },
    } as never));
  }
  const replicator = new Replicator(tracker.db, { selfId: tracker.tracker.id, peers: [], secret: "x".repeat(32), outbox: tracker.tracker.outbox });
  for (let i = 0; i < events.length; i += 2500) assert.equal((await replicator.receive(events.slice(i, i + 2500))).gap, false);
  assert.equal(await tracker.db.group.count({ where: { ownerId: owner } }), GROUPS);
  assert.equal(await tracker.db.holding.count({ where: { userId: owner } }), FILES);
  widest = { sql: "", boundValues: 0 };
});
after(async () => { await tracker.close(); });

const as = () => ({
  get: (path: string) => request(tracker.app).get(path).set("authorization", `Bearer ${token}`),
  post: (path: string, body: object) => request(tracker.app).post(path).set("authorization", `Bearer ${token}`).send(body),
  delete: (path: string) => request(tracker.app).delete(path).set("authorization", `Bearer ${token}`),
});

/** Every page of a list, 1000 at a time as the CLI asks; each answers 200. */
async function walk(path: string): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const page: request.Response = await as().get(`${path}?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    assert.equal(page.status, 200, `${path}: ${page.text.slice(0, 300)}`);
    count += page.body.items.length;
    cursor = page.body.nextCursor;
  } while (cursor);
  return count;
}

test("with 5000 groups and 20,000 files of one user, no statement of a list, login, announce or leave binds more values than the driver takes", async () => {
  assert.equal(await walk("/groups"), GROUPS);
  assert.equal(await walk(`/groups/${BIG_GROUP}/files`), FILES - GROUPS + 1);
  assert.equal(await walk(`/groups/${BIG_GROUP}/members`), 1);
  assert.equal(await walk("/groups/g4999/files"), 1);
  await request(tracker.app).post("/sessions").send({ userId: "hoarder", password: "pw", peerAddress: "127.0.0.1:7002" }).expect(201);
  const holdings = Array.from({ length: FILES }, (_, f) => ({
    groupId: f < FILES - GROUPS + 1 ? BIG_GROUP : `g${String(f - (FILES - GROUPS)).padStart(4, "0")}`, fileName: `f${f}.bin`, sha1: sha(f), piecesHeld: 1,
  }));
  const announced = await as().post("/peers/announce", { peerAddress: "127.0.0.1:7001", holdings });
  assert.equal(announced.status, 200, announced.text.slice(0, 300));
  assert.deepEqual(announced.body.rejected, []);
  const leave = await as().delete(`/groups/${BIG_GROUP}/members/hoarder`);
  assert.equal(leave.status, 204, leave.text.slice(0, 300));
  assert.ok(widest.boundValues <= MAX_BOUND_VALUES, `${widest.boundValues} values bound by ${widest.sql.slice(0, 300)}`);
});
