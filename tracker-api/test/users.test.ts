import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import request from "supertest";
import { startTrackerApp } from "./support/tracker-app.js";
import { assertMatchesSpec } from "./support/openapi.js";

let tracker: Awaited<ReturnType<typeof startTrackerApp>>;
before(async () => { tracker = await startTrackerApp(); });
after(async () => { await tracker.close(); });

test("creating a user answers 201 with the user and never the password", async () => {
  const response = await request(tracker.app).post("/users").send({ userId: "alice", password: "s3cret" });
  assert.equal(response.status, 201);
  assert.equal(response.body.userId, "alice");
  assert.ok(!JSON.stringify(response.body).includes("s3cret"));
  await assertMatchesSpec("/users", "post", 201, response.body);
  const stored = await tracker.db.user.findUniqueOrThrow({ where: { name: "alice" } });
  assert.match(stored.passwordHash, /^scrypt\$/);
  assert.ok(!stored.passwordHash.includes("s3cret"));
});

test("creating a user id that is taken is a 409 problem", async () => {
  await request(tracker.app).post("/users").send({ userId: "bob", password: "one" });
  const response = await request(tracker.app).post("/users").send({ userId: "bob", password: "two" });
  assert.equal(response.status, 409);
  assert.match(response.headers["content-type"]!, /application\/problem\+json/);
  assert.equal(JSON.parse(response.text).code, "USER_EXISTS");
});

test("user ids with slashes, dots-only paths or 65 characters are refused with field errors", async () => {
  for (const userId of ["a/b", "../x", "x".repeat(65), "", "a\u0000b", "ünï"]) {
    const response = await request(tracker.app).post("/users").send({ userId, password: "p" });
    assert.equal(response.status, 400, JSON.stringify(userId));
    const problem = JSON.parse(response.text);
    assert.equal(problem.code, "VALIDATION_FAILED");
    assert.ok(problem.errors, "field errors are listed");
  }
  assert.equal(await tracker.db.user.count({ where: { name: { in: ["a/b", "../x"] } } }), 0);
});

test("unknown properties in a body are refused", async () => {
  const response = await request(tracker.app).post("/users").send({ userId: "carol", password: "p", admin: true });
  assert.equal(response.status, 400);
  assert.equal(await tracker.db.user.count({ where: { name: "carol" } }), 0);
});

test("malformed JSON is a 400 problem, not a crash", async () => {
  const response = await request(tracker.app).post("/users").set("content-type", "application/json").send("{\"userId\":");
  assert.equal(response.status, 400);
  assert.equal(JSON.parse(response.text).code, "MALFORMED_JSON");
});

test("a body over the limit is a 413 problem", async () => {
  const response = await request(tracker.app).post("/users").set("content-type", "application/json")
    .send(JSON.stringify({ userId: "big", password: "x".repeat(9 * 1024 * 1024) }));
  assert.equal(response.status, 413);
  assert.equal(JSON.parse(response.text).code, "PAYLOAD_TOO_LARGE");
});

test("an unknown route is a 404 problem", async () => {
  const response = await request(tracker.app).get("/nowhere");
  assert.equal(response.status, 404);
  assert.equal(JSON.parse(response.text).code, "ROUTE_NOT_FOUND");
});
