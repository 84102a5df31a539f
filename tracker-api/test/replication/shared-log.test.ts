/**
 * Two API processes of one tracker on one PostgreSQL database, each with its
 * own outbox (as two processes have): a write holds the log's lock only for
 * its last statements, so what it does before (its checks, its projection,
 * the wait for its answer) does not hold up the other process's writes, and
 * the log they write stays gap-free in commit order. PostgreSQL only
 * (scripts/run-tests.mjs): SQLite is served by one process.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { openPostgres, type PostgresDatabase } from "../../src/db/postgres.js";
import { HybridClock } from "../../src/replication/hlc.js";
import { Outbox, type AnswerEvent } from "../../src/replication/outbox.js";
import { newPostgresDatabase } from "../support/test-database.js";

const ORIGIN = "tracker-1.shared";
let databases: PostgresDatabase[];
let one: Outbox;
let two: Outbox;

before(async () => {
  const url = await newPostgresDatabase();
  databases = [await openPostgres(url), await openPostgres(url)];
  // Each process has its own outbox and clock; they share the origin, as the processes of one tracker do.
  const outbox = (database: PostgresDatabase) => new Outbox(database.db, () => {}, { origin: ORIGIN, clock: new HybridClock(ORIGIN), committed: async () => {} }, true);
  one = outbox(databases[0]!);
  two = outbox(databases[1]!);
});

after(async () => {
  for (const database of databases) await database.close();
});

let users = 0;
const createUser = (name: string) => ({
  type: "user.created" as const,
  payload: { userId: `u:${name}-${users++}`, name, passwordHash: "h", createdAt: new Date().toISOString() },
});

/** A promise and what settles it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { opened, open };
}

/** Whether `write` finishes within a second (a write that waits for the other's lock does not). */
async function finishesAlone(write: Promise<unknown>): Promise<boolean> {
  return Promise.race([write.then(() => true), delay(1000).then(() => false)]);
}

async function log(): Promise<{ seq: number; name: string }[]> {
  const rows = await databases[0]!.db.event.findMany({ where: { origin: ORIGIN }, orderBy: { seq: "asc" } });
  return rows.map((row) => ({ seq: row.seq, name: String(JSON.parse(row.payload).name) }));
}

test("a write whose checks are slow in one API process does not hold up a write in another, and the log numbers them in commit order", async () => {
  const before = (await log()).length;
  const checked = gate();
  const started = gate();
  const slow = one.write(async (_tx, record) => {
    started.open();
    await checked.opened;
    await record(createUser("slow-checks"));
  });
  await started.opened;
  const quick = two.write(async (_tx, record) => { await record(createUser("quick-1")); });
  const alone = await finishesAlone(quick);
  checked.open();
  await Promise.all([slow, quick]);
  assert.ok(alone, "the other process's write finished while the slow one was still checking");
  const written = (await log()).slice(before);
  assert.deepEqual(written, [{ seq: before + 1, name: "quick-1" }, { seq: before + 2, name: "slow-checks" }]);
});

test("a write waiting for its answer in one API process does not hold up a write in another, and commits with its answer", async () => {
  const before = (await log()).length;
  const answered = gate();
  const asked = gate();
  const answer: AnswerEvent = {
    type: "idempotency.answered",
    payload: { scope: "anonymous", key: "k-shared-log", method: "POST", path: "/users", fingerprint: "f", status: 201, contentType: "application/json", body: "{}", createdAt: new Date().toISOString() },
  };
  const waiting = one.commit(async (_tx, record) => { await record(createUser("waits-for-answer")); }, async () => {
    asked.open();
    await answered.opened;
    return answer;
  });
  await asked.opened;
  const quick = two.write(async (_tx, record) => { await record(createUser("quick-2")); });
  const alone = await finishesAlone(quick);
  answered.open();
  const { answered: withAnswer } = await waiting;
  await quick;
  assert.ok(alone, "the other process's write finished while the first waited for its answer");
  assert.ok(withAnswer);
  const written = (await log()).slice(before);
  assert.deepEqual(written.map((e) => e.seq), [before + 1, before + 2, before + 3]);
  assert.equal(written[0]!.name, "quick-2");
  assert.equal(written[1]!.name, "waits-for-answer");
  const kept = await databases[1]!.db.idempotencyKey.findUnique({ where: { scope_key: { scope: "anonymous", key: "k-shared-log" } } });
  assert.equal(kept?.status, 201);
});

test("two API processes writing the same state take turns, the later write with the later HLC", async () => {
  const projected = gate();
  const started = gate();
  const name = "same-name";
  const first = one.write(async (_tx, record) => {
    await record(createUser(name));
    started.open();
    await projected.opened;
  });
  await started.opened;
  const second = two.write(async (_tx, record) => { await record(createUser(name)); });
  const alone = await finishesAlone(second);
  projected.open();
  await Promise.all([first, second]);
  assert.equal(alone, false, "the second waited for the first, which held the name's lock");
  const register = await databases[0]!.db.register.findUniqueOrThrow({
    where: { kind_groupId_incarnation_fileName_userId: { kind: "userName", groupId: "", incarnation: "", fileName: name, userId: "" } },
  });
  const claims = (JSON.parse(register.value) as { claims: { hlc: string }[] }).claims;
  assert.equal(claims.length, 2, "both claims merged: neither overwrote the other");
  const events = await databases[0]!.db.event.findMany({ where: { origin: ORIGIN, type: "user.created" }, orderBy: { seq: "asc" } });
  const mine = events.filter((e) => JSON.parse(e.payload).name === name);
  assert.ok(mine[1]!.hlc > mine[0]!.hlc, "the write that committed second has the later HLC");
});

test("a write of the same state through a process whose clock is behind still gets the later HLC, read from the log with its registers", async () => {
  const behind = new Outbox(databases[1]!.db, () => {}, { origin: ORIGIN, clock: new HybridClock(ORIGIN, () => Date.now() - 60_000), committed: async () => {} }, true);
  const name = "behind-name";
  await one.write(async (_tx, record) => { await record(createUser(name)); });
  await behind.write(async (_tx, record) => { await record(createUser(name)); });
  const events = await databases[0]!.db.event.findMany({ where: { origin: ORIGIN, type: "user.created" }, orderBy: { seq: "asc" } });
  const mine = events.filter((e) => JSON.parse(e.payload).name === name);
  assert.equal(mine.length, 2);
  assert.ok(mine[1]!.hlc > mine[0]!.hlc, "the later write has the later HLC, though its process's clock is a minute behind");
});
