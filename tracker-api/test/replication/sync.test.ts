import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { sign } from "../../src/replication/signing.js";
import { call, Cluster, converged, createUser, digest, login, SECRET, waitUntil } from "./cluster.js";

let cluster: Cluster;
let one: string;
let two: string;

before(async () => {
  cluster = await Cluster.start(2);
  one = cluster.tracker(1).url;
  two = cluster.tracker(2).url;
});

after(async () => {
  await cluster.stop();
});

test("a write on tracker 1 is visible on tracker 2 as soon as it is acknowledged", async () => {
  assert.equal((await createUser(one, "alice")).status, 201);
  const token = await login(one, "alice");
  assert.equal((await call(one, "POST", "/groups", { token, body: { groupId: "movies" } })).status, 201);
  // No waiting: the write was pushed before tracker 1 answered.
  const groups = await call(two, "GET", "/groups", { token });
  assert.equal(groups.status, 200);
  assert.deepEqual(groups.body.items.map((g: { groupId: string; owner: string }) => [g.groupId, g.owner]), [["movies", "alice"]]);
  await converged(cluster);
});

test("a session token issued by tracker 1 works on tracker 2, and logging out on 2 ends it on 1 within seconds", async () => {
  await createUser(one, "bob");
  const token = await login(one, "bob");
  assert.equal((await call(two, "GET", "/groups", { token })).status, 200);
  assert.equal((await call(two, "DELETE", "/sessions/current", { token })).status, 204);
  // Usually at once (the logout waits up to TRACKER.PUSH_WAIT_MS for tracker 1), but that wait is bounded: on a
  // loaded machine tracker 1 answered 200 once right after the 204, on PostgreSQL, and 401 a moment later.
  await waitUntil(async () => (await call(one, "GET", "/groups", { token })).status === 401, 5000, "tracker 1 to refuse the ended session");
});

test("the same user id created on both trackers is taken on the other, and the first password is the one that logs in", async () => {
  assert.equal((await createUser(one, "carol", "first")).status, 201);
  assert.equal((await createUser(two, "carol", "second")).status, 409);
  assert.equal((await call(two, "POST", "/sessions", { body: { userId: "carol", password: "first", peerAddress: "127.0.0.1:7001" } })).status, 201);
});

test("a user creation retried on tracker 2 with the Idempotency-Key it had on tracker 1 is replayed there, not a 409", async () => {
  const request = { body: { userId: "dave", password: "pw" }, headers: { "idempotency-key": "create-dave-1" } };
  const first = await call(one, "POST", "/users", request);
  assert.equal(first.status, 201);
  const retried = await call(two, "POST", "/users", request);
  assert.equal(retried.status, 201);
  assert.deepEqual(retried.body, first.body);
  assert.equal(retried.headers?.["idempotent-replayed"], "true");
});

test("a group creation retried on tracker 2 with the same caller and Idempotency-Key is replayed there, not a 409", async () => {
  await createUser(one, "erin");
  const token = await login(one, "erin");
  const request = { token, body: { groupId: "erins" }, headers: { "idempotency-key": "create-erins-1" } };
  const first = await call(one, "POST", "/groups", request);
  assert.equal(first.status, 201);
  const retried = await call(two, "POST", "/groups", request);
  assert.equal(retried.status, 201);
  assert.deepEqual(retried.body, first.body);
  assert.equal(retried.headers?.["idempotent-replayed"], "true");
});

function delivery(events: unknown[], secret = SECRET) {
  const body = JSON.stringify({ from: "tracker-9", events });
  return { body, headers: { ...sign(secret, "POST", "/replication/events", body), "content-type": "application/json" } };
}

const forgedUser = [{
  origin: "tracker-9", seq: 1, hlc: "001764000000000-000000-tracker-9", type: "user.created",
  payload: { userId: "mallory", passwordHash: "scrypt$AAAA$BBBB", createdAt: "2026-11-25T10:00:00.000Z" },
}];

test("forged, unsigned, altered, stale and replayed deliveries are refused with 401 and change nothing", async () => {
  await converged(cluster);
  const before = await digest(two);
  const send = (body: string, headers: Record<string, string>) => call(two, "POST", "/replication/events", { rawBody: body, headers });

  const unsigned = await send(JSON.stringify({ from: "tracker-9", events: forgedUser }), { "content-type": "application/json" });
  assert.equal(unsigned.status, 401);
  assert.equal(unsigned.body.code, "REPLICATION_UNSIGNED");

  const forged = delivery(forgedUser, "not-the-cluster-secret-at-all");
  assert.equal((await send(forged.body, forged.headers)).body.code, "REPLICATION_BAD_SIGNATURE");

  const genuine = delivery(forgedUser);
  const altered = await send(genuine.body.replace("mallory", "mallorx"), genuine.headers);
  assert.equal(altered.status, 401);
  assert.equal(altered.body.code, "REPLICATION_BAD_SIGNATURE");

  const staleBody = JSON.stringify({ from: "tracker-9", events: forgedUser });
  const stale = await send(staleBody, { ...sign(SECRET, "POST", "/replication/events", staleBody, Date.now() - 6 * 60_000), "content-type": "application/json" });
  assert.equal(stale.body.code, "REPLICATION_STALE");

  const empty = delivery([]);
  assert.equal((await send(empty.body, empty.headers)).status, 200);
  const replayed = await send(empty.body, empty.headers);
  assert.equal(replayed.status, 401);
  assert.equal(replayed.body.code, "REPLICATION_REPLAYED");
  assert.match(String(replayed.body.type), /^urn:/);

  const pull = await call(two, "GET", "/replication/events?origin=tracker-1&after=0&limit=10");
  assert.equal(pull.status, 401);

  assert.equal(await digest(two), before);
  assert.equal((await call(two, "POST", "/sessions", { body: { userId: "mallory", password: "x", peerAddress: "127.0.0.1:7001" } })).status, 401);
});

test("health shows each other tracker with nothing behind and nothing unacknowledged once in sync", async () => {
  await converged(cluster);
  await waitUntil(async () => {
    const view = (await call(one, "GET", "/health")).body;
    return view.peers[0].unacknowledged === 0 && view.peers[0].behind === 0 && view.peers[0].reachable === true;
  }, 5000, "tracker 2 acknowledged everything");
  const view = (await call(one, "GET", "/health")).body;
  assert.equal(view.status, "ok");
  assert.equal(view.peers[0].trackerId, "tracker-2");
  assert.equal(view.digest, (await call(two, "GET", "/health")).body.digest);
});
