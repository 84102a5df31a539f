import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import request from "supertest";
import { groupIdOf, startTrackerApp } from "./support/tracker-app.js";
import { onPostgres } from "./support/test-database.js";
import { assertMatchesSpec } from "./support/openapi.js";

let tracker: Awaited<ReturnType<typeof startTrackerApp>>;
before(async () => { tracker = await startTrackerApp(); });
after(async () => { await tracker.close(); });

const createUser = (userId: string, key: string) =>
  request(tracker.app).post("/users").set("idempotency-key", key).send({ userId, password: "pw" });

async function loginAs(userId: string): Promise<string> {
  await request(tracker.app).post("/users").send({ userId, password: "pw" }).expect(201);
  const login = await request(tracker.app).post("/sessions").send({ userId, password: "pw", peerAddress: "127.0.0.1:7001" }).expect(201);
  return login.body.token as string;
}

test("a retried user creation with the same Idempotency-Key gets the same 201 twice and no 409", async () => {
  const key = randomUUID();
  const first = await createUser("retry", key);
  const second = await createUser("retry", key);
  assert.equal(first.status, 201);
  assert.equal(second.status, 201);
  assert.deepEqual(second.body, first.body);
  await assertMatchesSpec("/users", "post", 201, second.body);
  assert.equal(first.headers["idempotent-replayed"], undefined);
  assert.equal(second.headers["idempotent-replayed"], "true");
  assert.equal(await tracker.db.user.count({ where: { name: "retry" } }), 1);
});

test("the same user creation under a new Idempotency-Key is done again and is a 409", async () => {
  await createUser("twice", randomUUID()).expect(201);
  const again = await createUser("twice", randomUUID());
  assert.equal(again.status, 409);
  assert.equal(JSON.parse(again.text).code, "USER_EXISTS");
});

test("a replayed problem keeps its status, problem+json type and body", async () => {
  await createUser("taken", randomUUID()).expect(201);
  const key = randomUUID();
  const first = await createUser("taken", key);
  const second = await createUser("taken", key);
  assert.equal(second.status, 409);
  assert.match(second.headers["content-type"]!, /application\/problem\+json/);
  assert.equal(second.text, first.text);
  assert.equal(second.headers["idempotent-replayed"], "true");
});

test("reusing an Idempotency-Key for a different body is a 422 problem and creates nothing", async () => {
  const key = randomUUID();
  await createUser("first-body", key).expect(201);
  const other = await createUser("other-body", key);
  assert.equal(other.status, 422);
  assert.equal(JSON.parse(other.text).code, "IDEMPOTENCY_KEY_REUSED");
  assert.equal(await tracker.db.user.count({ where: { name: "other-body" } }), 0);
});

test("reusing an Idempotency-Key for a different route is a 422 problem", async () => {
  const token = await loginAs("router");
  const key = randomUUID();
  const auth = { authorization: `Bearer ${token}` };
  await request(tracker.app).post("/groups").set(auth).set("idempotency-key", key).send({ groupId: "route-a" }).expect(201);
  const other = await request(tracker.app).post("/groups/route-a/join-requests").set(auth).set("idempotency-key", key);
  assert.equal(other.status, 422);
  assert.equal(JSON.parse(other.text).code, "IDEMPOTENCY_KEY_REUSED");
});

test("keys belong to one caller: another caller's request under the same key is done, not replayed", async () => {
  const [alice, bob] = [await loginAs("k-alice"), await loginAs("k-bob")];
  const key = randomUUID();
  const a = await request(tracker.app).post("/groups").set("authorization", `Bearer ${alice}`).set("idempotency-key", key).send({ groupId: "ka" });
  const b = await request(tracker.app).post("/groups").set("authorization", `Bearer ${bob}`).set("idempotency-key", key).send({ groupId: "kb" });
  assert.equal(a.status, 201);
  assert.equal(b.status, 201);
  assert.equal(b.headers["idempotent-replayed"], undefined);
  assert.equal(b.body.owner, "k-bob");
});

test("a retried logout is answered 204 again, not 401", async () => {
  const token = await loginAs("leaver");
  const key = randomUUID();
  const logout = () => request(tracker.app).delete("/sessions/current").set("authorization", `Bearer ${token}`).set("idempotency-key", key);
  await logout().expect(204);
  const retry = await logout();
  assert.equal(retry.status, 204);
  assert.equal(retry.headers["idempotent-replayed"], "true");
});

test("retries sent while the first request is still running wait and get the same answer", async () => {
  const key = randomUUID();
  const answers = await Promise.all(Array.from({ length: 4 }, () => createUser("racing", key)));
  assert.deepEqual(answers.map((a) => a.status), [201, 201, 201, 201]);
  for (const answer of answers) assert.deepEqual(answer.body, answers[0]!.body);
  assert.equal(answers.filter((a) => a.headers["idempotent-replayed"] === "true").length, 3);
});

test("a key older than 24 hours is forgotten and the request is done again", async () => {
  const key = randomUUID();
  await createUser("old-key", key).expect(201);
  await tracker.db.idempotencyKey.updateMany({ where: { key }, data: { createdAt: new Date(Date.now() - 25 * 60 * 60 * 1000) } });
  const late = await createUser("old-key", key);
  assert.equal(late.status, 409);
  assert.equal(JSON.parse(late.text).code, "USER_EXISTS");
});

test("a request without a valid token is not kept: the key works once the caller is authenticated", async () => {
  const token = await loginAs("late-auth");
  const key = randomUUID();
  const body = { groupId: "late-group" };
  const refused = await request(tracker.app).post("/groups").set("authorization", "Bearer not-a-real-token-not-a-real").set("idempotency-key", key).send(body);
  assert.equal(refused.status, 401);
  assert.equal(await tracker.db.idempotencyKey.count({ where: { key } }), 0);
  await request(tracker.app).post("/groups").set("authorization", `Bearer ${token}`).set("idempotency-key", key).send(body).expect(201);
});

test("logging in is never kept, so no token is stored", async () => {
  await request(tracker.app).post("/users").send({ userId: "secretive", password: "pw" }).expect(201);
  const key = randomUUID();
  const login = () => request(tracker.app).post("/sessions").set("idempotency-key", key)
    .send({ userId: "secretive", password: "pw", peerAddress: "127.0.0.1:7001" });
  const [first, second] = [await login(), await login()];
  assert.equal(second.headers["idempotent-replayed"], undefined);
  assert.notEqual(first.body.token, second.body.token);
  assert.equal(await tracker.db.idempotencyKey.count({ where: { key } }), 0);
});

test("an Idempotency-Key that is not visible ASCII is a 400 problem", async () => {
  const response = await createUser("badkey", "has space");
  assert.equal(response.status, 400);
  assert.equal(JSON.parse(response.text).code, "BAD_IDEMPOTENCY_KEY");
});

test("a write whose answer cannot be committed with it is undone and answered 500, and a retry under the same key does it", async () => {
  const token = await loginAs("doomed");
  const auth = { authorization: `Bearer ${token}` };
  await request(tracker.app).post("/groups").set(auth).send({ groupId: "doomed-group" }).expect(201);
  const key = randomUUID();
  const share = () => request(tracker.app).post("/groups/doomed-group/files").set(auth).set("idempotency-key", key)
    .send({ fileName: "doomed.bin", size: 1024, sha1: "a".repeat(40), pieceSize: 524288, pieceHashes: ["a".repeat(40)] });

  const unblock = await blockAnswer(key);
  const failed = await share();
  await unblock();

  assert.equal(failed.status, 500);
  assert.match(failed.headers["content-type"]!, /application\/problem\+json/);
  assert.equal(JSON.parse(failed.text).code, "WRITE_NOT_SAVED");
  assert.equal(await tracker.db.sharedFile.count({ where: { groupId: await groupIdOf(tracker.db, "doomed-group") } }), 0);
  const retried = await share();
  assert.equal(retried.status, 201);
  assert.equal(retried.headers["idempotent-replayed"], undefined);
});

test("a retried account creation with another password is a 422 problem that does not echo it, and the first password still works", async () => {
  const key = randomUUID();
  await request(tracker.app).post("/users").set("idempotency-key", key).send({ userId: "pat", password: "first-secret" }).expect(201);
  const retry = await request(tracker.app).post("/users").set("idempotency-key", key).send({ userId: "pat", password: "second-secret" });
  assert.equal(retry.status, 422);
  assert.equal(JSON.parse(retry.text).code, "IDEMPOTENCY_KEY_REUSED");
  assert.doesNotMatch(retry.text, /secret/);
  assert.equal(retry.headers["idempotent-replayed"], undefined);
  // The same password is a true retry: replayed.
  const same = await request(tracker.app).post("/users").set("idempotency-key", key).send({ userId: "pat", password: "first-secret" });
  assert.equal(same.status, 201);
  assert.equal(same.headers["idempotent-replayed"], "true");
  await request(tracker.app).post("/sessions").send({ userId: "pat", password: "first-secret", peerAddress: "127.0.0.1:7001" }).expect(201);
});

/**
 * Makes the commit of the answer under `key` fail; returns what undoes that.
 * On SQLite the tracker numbers its events from memory: the seq the answer
 * will take (the share's event takes the next one) is taken here. On
 * PostgreSQL numbers are read from the log in the transaction, so nothing can
 * be taken ahead: a trigger refuses the answer's row instead.
 */
async function blockAnswer(key: string): Promise<() => Promise<void>> {
  if (onPostgres) {
    await tracker.db.$executeRawUnsafe(`CREATE FUNCTION refuse_answer() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'answer refused by the test'; END $$ LANGUAGE plpgsql`);
    await tracker.db.$executeRawUnsafe(`CREATE TRIGGER refuse_answer BEFORE INSERT ON "IdempotencyKey" FOR EACH ROW WHEN (NEW."key" = '${key}') EXECUTE FUNCTION refuse_answer()`);
    return async () => {
      await tracker.db.$executeRawUnsafe(`DROP TRIGGER refuse_answer ON "IdempotencyKey"`);
      await tracker.db.$executeRawUnsafe(`DROP FUNCTION refuse_answer()`);
    };
  }
  const [last] = await tracker.db.$queryRaw<{ seq: number | bigint }[]>`SELECT MAX("seq") AS "seq" FROM "Event" WHERE "origin" = 'local'`;
  const blocker = { origin: "local", seq: Number(last!.seq) + 2 };
  await tracker.db.event.create({ data: { ...blocker, hlc: "0", type: "test.blocker", payload: "{}", createdAt: new Date() } });
  return async () => {
    await tracker.db.event.delete({ where: { origin_seq: blocker } });
  };
}
