import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { openDatabase, type TrackerDb } from "../../src/db/open.js";
import { loadGrantKey } from "../../src/grant-key.js";
import { type AnswerEvent } from "../../src/replication/outbox.js";
import { TRACKER } from "../../src/config.js";
import { createUser } from "../../src/services/users.js";
import { createTracker, type Tracker } from "../../src/tracker.js";

// A request that keeps its answer: its write's transaction waits for the answer
// and commits with it. These pin down what happens when the answer is late.

let dir: string;
let db: TrackerDb;
let tracker: Tracker;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "held-answers-"));
  db = await openDatabase(join(dir, "tracker.db"));
  tracker = createTracker({ db, id: "tracker-test", grantKey: await loadGrantKey("tracker-test") });
});
after(async () => {
  await db.$disconnect();
  await rm(dir, { recursive: true, force: true });
});

const answerFor = (key: string): AnswerEvent => ({
  type: "idempotency.answered",
  payload: {
    scope: "anonymous", key, method: "POST", path: "/users", fingerprint: "f", status: 201,
    contentType: "application/json", body: "{}", createdAt: new Date().toISOString(),
  },
});

/** Handles one request: `handle` runs with deliveries held, then the answer is recorded. */
async function request(key: string, handle: () => Promise<void>): Promise<void> {
  let handled!: Promise<void>;
  const hold = tracker.outbox.holdDeliveries(() => { handled = handle(); });
  await handled;
  assert.equal(hold.changed(), true);
  await hold.deliver(answerFor(key));
}

async function loggedTypes(): Promise<string[]> {
  return (await db.event.findMany({ orderBy: { seq: "asc" } })).map((e) => e.type);
}

test("an answer later than the write can wait for: the write commits alone, then the answer is logged and kept after it", async () => {
  const before = (await loggedTypes()).length;
  await request("late", async () => {
    await createUser(tracker, { userId: "late", password: "pw" });
    await delay(TRACKER.ANSWER_WAIT_MS * 2);
  });
  assert.deepEqual((await loggedTypes()).slice(before), ["user.created", "idempotency.answered"]);
  assert.equal(await db.idempotencyKey.count({ where: { key: "late" } }), 1);
});

test("a request that reads the database between its write and its answer is not blocked by its own waiting transaction", async () => {
  const before = (await loggedTypes()).length;
  const started = Date.now();
  await request("reader", async () => {
    await createUser(tracker, { userId: "reader", password: "pw" });
    assert.equal(await db.user.count({ where: { name: "reader" } }), 1);
  });
  assert.ok(Date.now() - started < 2000);
  assert.deepEqual((await loggedTypes()).slice(before), ["user.created", "idempotency.answered"]);
});

test("a second write in the same request commits after the first, and the answer is logged after both", async () => {
  const before = (await loggedTypes()).length;
  await request("two-writes", async () => {
    await createUser(tracker, { userId: "first-of-two", password: "pw" });
    await createUser(tracker, { userId: "second-of-two", password: "pw" });
  });
  assert.deepEqual((await loggedTypes()).slice(before), ["user.created", "user.created", "idempotency.answered"]);
  assert.equal(await db.user.count({ where: { name: { in: ["first-of-two", "second-of-two"] } } }), 2);
});

test("an answer given at once is logged in the write's own transaction, right after its event", async () => {
  const before = (await loggedTypes()).length;
  await request("at-once", async () => {
    await createUser(tracker, { userId: "at-once", password: "pw" });
  });
  const events = (await db.event.findMany({ orderBy: { seq: "asc" } })).slice(before);
  assert.deepEqual(events.map((e) => e.type), ["user.created", "idempotency.answered"]);
  assert.equal(events[1]!.seq, events[0]!.seq + 1);
  assert.equal(events[1]!.createdAt.getTime(), events[0]!.createdAt.getTime());
});
