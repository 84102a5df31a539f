/**
 * Several API processes per tracker on one PostgreSQL database (issue 16):
 * tracker 1 runs as `--workers 3` plus one process started on its own (as
 * behind a reverse proxy); writes go through all of them at once, and the
 * log they write must be the one a single process would have written, and
 * reach tracker 2. PostgreSQL only (scripts/run-tests.mjs): SQLite is served
 * by one process.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { Agent, request } from "undici";
import { call, Cluster, converged, createUser, login, waitUntil, type TrackerProcess } from "./cluster.js";

let cluster: Cluster;
let one: string;
let two: string;

before(async () => {
  cluster = await Cluster.start(2, { workers: { 1: 3 } });
  one = cluster.tracker(1).url;
  two = cluster.tracker(2).url;
});

after(async () => {
  await cluster.stop();
});

/** A process of tracker 1 started on its own (as behind a reverse proxy), shared by the tests that need one. */
let sibling: Promise<TrackerProcess> | undefined;
const siblingOfOne = () => (sibling ??= cluster.startSibling(1));

/** Tracker 1's log as its database holds it, per origin in seq order. */
async function logOf(number: number): Promise<{ origin: string; seq: number; hlc: string; type: string }[]> {
  const client = new pg.Client({ connectionString: cluster.databaseUrl(number)! });
  await client.connect();
  try {
    return (await client.query(`SELECT "origin", "seq", "hlc", "type" FROM "Event" ORDER BY "origin", "seq"`)).rows;
  } finally {
    await client.end();
  }
}

test("writes through several API processes of one tracker at once write one gap-free log with an HLC each, and reach the other tracker", async () => {
  const sibling = await siblingOfOne();
  // A connection per request, so the cluster spreads them over its processes.
  const fresh = new Agent({ pipelining: 0, connections: 1, keepAliveTimeout: 1 });
  const created = await Promise.all(Array.from({ length: 24 }, async (_, i) => {
    const base = i % 4 === 0 ? sibling.url : one;
    const answer = await request(`${base}/users`, {
      method: "POST", dispatcher: fresh, headers: { "content-type": "application/json", connection: "close" }, body: JSON.stringify({ userId: `user-${i}`, password: "pw" }),
    });
    await answer.body.text();
    return answer.statusCode;
  }));
  await fresh.close();
  assert.deepEqual(created, created.map(() => 201));

  const log = (await logOf(1)).filter((e) => e.origin.startsWith("tracker-1"));
  assert.equal(new Set(log.map((e) => e.origin)).size, 1, "one origin for the tracker, whichever process wrote");
  assert.deepEqual(log.map((e) => e.seq), log.map((_, i) => i + 1), "sequence numbers 1..n without gaps");
  // Numbered in commit order; a write's HLC is taken before (docs/postgresql.md), so it need not grow with seq, but no two are alike.
  assert.equal(new Set(log.map((e) => e.hlc)).size, log.length, "one HLC per event");
  assert.equal(log.filter((e) => e.type === "user.created").length, 24);

  await converged(cluster);
  const token = await login(two, "user-5");
  assert.equal((await call(two, "GET", "/groups", { token })).status, 200);
});

test("the same user id created through two processes at once is created once, and the other request is refused as taken", async () => {
  const sibling = await siblingOfOne();
  const answers = await Promise.all([one, sibling.url, one, sibling.url].map((base) => createUser(base, "twice")));
  assert.deepEqual(answers.map((a) => a.status).sort(), [201, 409, 409, 409]);
});

test("a group shared through one process is listed by another after its notification, and a logout through one ends the session in every process", async () => {
  assert.equal((await createUser(one, "owner")).status, 201);
  const token = await login(one, "owner");
  assert.equal((await call(one, "POST", "/groups", { token, body: { groupId: "shared" } })).status, 201);
  const sibling = await cluster.startSibling(1);
  // The sibling caches the (empty) list, then a share through tracker 1's port must make it drop that.
  assert.deepEqual((await call(sibling.url, "GET", "/groups/shared/files", { token })).body.items, []);
  const share = { fileName: "a.bin", size: 1024, sha1: "a".repeat(40), pieceSize: 524288, pieceHashes: ["a".repeat(40)] };
  assert.equal((await call(one, "POST", "/groups/shared/files", { token, body: share })).status, 201);
  // Caches are per process: another process learns of the change by a notification, within milliseconds, not in the write's answer.
  await waitUntil(async () => (await call(sibling.url, "GET", "/groups/shared/files", { token })).body.items.length === 1, 5000, "the sibling to list the share");

  assert.equal((await call(sibling.url, "GET", "/groups", { token })).status, 200);
  assert.equal((await call(one, "DELETE", "/sessions/current", { token })).status, 204);
  await waitUntil(async () => (await call(sibling.url, "GET", "/groups", { token })).status === 401, 5000, "the sibling to refuse the ended session");
});
