import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import request from "supertest";
import { startTrackerApp } from "./support/tracker-app.js";
import { assertMatchesSpec } from "./support/openapi.js";

// A tracker with quotas of 2, so the 3rd of each thing is the one refused.
const QUOTA = 2;
let tracker: Awaited<ReturnType<typeof startTrackerApp>>;
const tokens: Record<string, string> = {};
const PIECE = 512 * 1024;
const hash = (c: string) => c.repeat(40);
const metadata = (fileName: string, sha1: string) => ({ fileName, size: PIECE, sha1, pieceSize: PIECE, pieceHashes: [hash("b")] });

const as = (user: string) => ({
  post: (path: string, body?: object) => request(tracker.app).post(path).set("authorization", `Bearer ${tokens[user]}`).send(body),
  delete: (path: string) => request(tracker.app).delete(path).set("authorization", `Bearer ${tokens[user]}`),
});

before(async () => {
  tracker = await startTrackerApp({ quotas: { groupsOwned: QUOTA, filesShared: QUOTA, pendingJoinRequests: QUOTA } });
  for (const user of ["alice", "bob", "carol", "dave"]) {
    await request(tracker.app).post("/users").send({ userId: user, password: "pw" }).expect(201);
    tokens[user] = (await request(tracker.app).post("/sessions")
      .send({ userId: user, password: "pw", peerAddress: "127.0.0.1:7001" }).expect(201)).body.token;
  }
});
after(async () => { await tracker.close(); });

/** A 403 problem+json with code QUOTA_EXCEEDED, as openapi.yaml documents it. */
async function assertQuotaExceeded(response: request.Response, path: string): Promise<void> {
  assert.equal(response.status, 403, response.text);
  assert.match(response.headers["content-type"] ?? "", /^application\/problem\+json/);
  const problem = JSON.parse(response.text);
  assert.equal(problem.code, "QUOTA_EXCEEDED");
  assert.equal(problem.status, 403);
  assert.equal(response.headers["retry-after"], undefined, "a quota is not a rate: there is nothing to wait for");
  await assertMatchesSpec(path, "post", 403, problem);
}

test("a user may own as many groups as the quota and the next one is refused with 403 QUOTA_EXCEEDED", async () => {
  await as("alice").post("/groups", { groupId: "a1" }).expect(201);
  await as("alice").post("/groups", { groupId: "a2" }).expect(201);
  await assertQuotaExceeded(await as("alice").post("/groups", { groupId: "a3" }), "/groups");
  assert.equal(await tracker.db.group.count({ where: { name: "a3" } }), 0);
  // Others are not affected by alice's count.
  await as("carol").post("/groups", { groupId: "c1" }).expect(201);
});

test("a user may have as many join requests pending as the quota and the next one is refused with 403 QUOTA_EXCEEDED", async () => {
  await as("bob").post("/groups/a1/join-requests").expect(201);
  await as("bob").post("/groups/a2/join-requests").expect(201);
  await assertQuotaExceeded(await as("bob").post("/groups/c1/join-requests"), "/groups/{groupId}/join-requests");
  // An answered request no longer counts.
  await as("alice").post("/groups/a1/join-requests/bob/reject").expect(204);
  await as("bob").post("/groups/c1/join-requests").expect(201);
});

test("a user may share as many files as the quota and the next one is refused with 403 QUOTA_EXCEEDED", async () => {
  await as("dave").post("/groups", { groupId: "d1" }).expect(201);
  await as("dave").post("/groups/d1/files", metadata("one.bin", hash("1"))).expect(201);
  await as("dave").post("/groups/d1/files", metadata("two.bin", hash("2"))).expect(201);
  await assertQuotaExceeded(await as("dave").post("/groups/d1/files", metadata("three.bin", hash("3"))), "/groups/{groupId}/files");
  assert.equal(await tracker.db.sharedFile.count({ where: { fileName: "three.bin" } }), 0);
  // Sharing again a file one holds adds no holding, so it is not refused at the quota.
  await as("dave").post("/groups/d1/files", metadata("two.bin", hash("2"))).expect(200);
});
