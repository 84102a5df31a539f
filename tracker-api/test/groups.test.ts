import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import request from "supertest";
import { groupIdOf, startTrackerApp, userIdOf } from "./support/tracker-app.js";
import { assertMatchesSpec } from "./support/openapi.js";

let tracker: Awaited<ReturnType<typeof startTrackerApp>>;
const tokens: Record<string, string> = {};

before(async () => {
  tracker = await startTrackerApp();
  for (const user of ["alice", "bob", "carol", "dave"]) {
    await request(tracker.app).post("/users").send({ userId: user, password: "pw" }).expect(201);
    const { body } = await request(tracker.app).post("/sessions")
      .send({ userId: user, password: "pw", peerAddress: "127.0.0.1:7001" }).expect(201);
    tokens[user] = body.token;
  }
});
after(async () => { await tracker.close(); });

const as = (user: string) => ({
  get: (path: string) => request(tracker.app).get(path).set("authorization", `Bearer ${tokens[user]}`),
  post: (path: string, body?: object) => request(tracker.app).post(path).set("authorization", `Bearer ${tokens[user]}`).send(body),
  delete: (path: string) => request(tracker.app).delete(path).set("authorization", `Bearer ${tokens[user]}`),
});
const code = (response: { text: string }) => JSON.parse(response.text).code as string;

test("creating a group makes the caller its owner, and everyone can list it", async () => {
  const created = await as("alice").post("/groups", { groupId: "movies" });
  assert.equal(created.status, 201);
  await assertMatchesSpec("/groups", "post", 201, created.body);
  const listed = await as("bob").get("/groups");
  assert.equal(listed.status, 200);
  await assertMatchesSpec("/groups", "get", 200, listed.body);
  assert.deepEqual(listed.body.items.map((g: { groupId: string; owner: string; memberCount: number }) => [g.groupId, g.owner, g.memberCount]),
    [["movies", "alice", 1]]);
});

test("a group id that is taken is a 409", async () => {
  const response = await as("bob").post("/groups", { groupId: "movies" });
  assert.equal(response.status, 409);
  assert.equal(code(response), "GROUP_EXISTS");
});

test("listing groups needs a session", async () => {
  assert.equal((await request(tracker.app).get("/groups")).status, 401);
});

test("a join request is listed for the owner and refused to anyone else", async () => {
  const requested = await as("bob").post("/groups/movies/join-requests");
  assert.equal(requested.status, 201);
  await assertMatchesSpec("/groups/{groupId}/join-requests", "post", 201, requested.body);
  assert.equal(code(await as("bob").post("/groups/movies/join-requests")), "REQUEST_PENDING");
  const pending = await as("alice").get("/groups/movies/join-requests");
  assert.deepEqual(pending.body.items.map((r: { userId: string }) => r.userId), ["bob"]);
  await assertMatchesSpec("/groups/{groupId}/join-requests", "get", 200, pending.body);
  const notOwner = await as("carol").get("/groups/movies/join-requests");
  assert.equal(notOwner.status, 403);
  assert.equal(code(notOwner), "NOT_OWNER");
});

test("accepting a join request is refused for a member who is not the owner", async () => {
  const response = await as("bob").post("/groups/movies/join-requests/bob/accept");
  assert.equal(response.status, 403);
  assert.equal((await tracker.db.membership.count({ where: { groupId: await groupIdOf(tracker.db, "movies"), userId: await userIdOf(tracker.db, "bob") } })), 0);
});

test("the owner accepts a request and the requester becomes a member", async () => {
  const accepted = await as("alice").post("/groups/movies/join-requests/bob/accept");
  assert.equal(accepted.status, 200);
  await assertMatchesSpec("/groups/{groupId}/join-requests/{userId}/accept", "post", 200, accepted.body);
  const members = await as("bob").get("/groups/movies/members");
  assert.deepEqual(members.body.items.map((m: { userId: string; isOwner: boolean }) => [m.userId, m.isOwner]),
    [["alice", true], ["bob", false]]);
  assert.equal(code(await as("bob").post("/groups/movies/join-requests")), "ALREADY_MEMBER");
});

test("accepting or rejecting a request that does not exist is a 404", async () => {
  assert.equal((await as("alice").post("/groups/movies/join-requests/carol/accept")).status, 404);
  assert.equal((await as("alice").post("/groups/movies/join-requests/carol/reject")).status, 404);
  assert.equal((await as("alice").get("/groups/nothing/join-requests")).status, 404);
});

test("a rejected requester does not become a member", async () => {
  await as("carol").post("/groups/movies/join-requests").expect(201);
  await as("alice").post("/groups/movies/join-requests/carol/reject").expect(204);
  assert.equal((await as("carol").get("/groups/movies/members")).status, 403);
  assert.deepEqual((await as("alice").get("/groups/movies/join-requests")).body, { items: [], nextCursor: null });
});

test("a member cannot remove someone else", async () => {
  const response = await as("bob").delete("/groups/movies/members/alice");
  assert.equal(response.status, 403);
  assert.equal(code(response), "NOT_SELF");
});

test("when the owner leaves, ownership passes on; when the last member leaves, the group is gone", async () => {
  await as("alice").delete("/groups/movies/members/alice").expect(204);
  const listed = await as("bob").get("/groups");
  assert.deepEqual(listed.body.items.map((g: { groupId: string; owner: string }) => [g.groupId, g.owner]), [["movies", "bob"]]);
  await as("bob").delete("/groups/movies/members/bob").expect(204);
  assert.deepEqual((await as("bob").get("/groups")).body, { items: [], nextCursor: null });
});
