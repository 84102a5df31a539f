import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import request from "supertest";
import { startTrackerApp, userIdOf } from "./support/tracker-app.js";
import { assertMatchesSpec } from "./support/openapi.js";

let tracker: Awaited<ReturnType<typeof startTrackerApp>>;
before(async () => {
  tracker = await startTrackerApp();
  await request(tracker.app).post("/users").send({ userId: "alice", password: "right" }).expect(201);
});
after(async () => { await tracker.close(); });

const login = (userId: string, password: string) =>
  request(tracker.app).post("/sessions").send({ userId, password, peerAddress: "127.0.0.1:7001" });

test("logging in answers a token that is stored only as a hash", async () => {
  const response = await login("alice", "right");
  assert.equal(response.status, 201);
  await assertMatchesSpec("/sessions", "post", 201, response.body);
  assert.equal(response.body.peerAddress, "127.0.0.1:7001");
  const sessions = await tracker.db.session.findMany({ where: { userId: await userIdOf(tracker.db, "alice") } });
  assert.ok(sessions.length >= 1);
  assert.ok(sessions.every((s) => s.tokenHash !== response.body.token && /^[0-9a-f]{64}$/.test(s.tokenHash)));
});

test("a wrong password and an unknown user get the same 401", async () => {
  const wrong = await login("alice", "wrong");
  const unknown = await login("nobody", "wrong");
  assert.equal(wrong.status, 401);
  assert.equal(unknown.status, 401);
  assert.equal(JSON.parse(wrong.text).detail, JSON.parse(unknown.text).detail);
});

test("logging out ends the session: the token is refused afterwards", async () => {
  const { token } = (await login("alice", "right")).body as { token: string };
  await request(tracker.app).delete("/sessions/current").set("authorization", `Bearer ${token}`).expect(204);
  const again = await request(tracker.app).delete("/sessions/current").set("authorization", `Bearer ${token}`);
  assert.equal(again.status, 401);
  assert.equal(JSON.parse(again.text).code, "SESSION_INVALID");
});

test("a missing or forged token is a 401 problem", async () => {
  for (const authorization of [undefined, "Bearer forged-token-forged-token-xx", "Basic abc"]) {
    const req = request(tracker.app).delete("/sessions/current");
    const response = await (authorization ? req.set("authorization", authorization) : req);
    assert.equal(response.status, 401, String(authorization));
    assert.match(response.headers["content-type"]!, /problem\+json/);
  }
});

test("login brute force is throttled with 429 and Retry-After, even for the right password", async () => {
  await request(tracker.app).post("/users").send({ userId: "victim", password: "right" }).expect(201);
  for (let i = 0; i < 5; i++) assert.equal((await login("victim", `guess${i}`)).status, 401);
  const throttled = await login("victim", "right");
  assert.equal(throttled.status, 429);
  assert.ok(Number(throttled.headers["retry-after"]) >= 1);
  assert.equal(JSON.parse(throttled.text).code, "LOGIN_THROTTLED");
});
