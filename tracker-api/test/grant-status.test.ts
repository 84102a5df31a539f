/**
 * The tracker's answer to "do these grants still stand", which peer agents
 * ask every few seconds about the grants they serve (the 5 s revocation with
 * real processes is peer-agent/test/grant-revocation.test.ts).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import request from "supertest";
import { decodeJwt } from "jose";
import { startTrackerApp } from "./support/tracker-app.js";

let tracker: Awaited<ReturnType<typeof startTrackerApp>>;
const tokens: Record<string, string> = {};

before(async () => {
  tracker = await startTrackerApp();
  for (const user of ["alice", "bob"]) {
    await request(tracker.app).post("/users").send({ userId: user, password: "pw" }).expect(201);
    const { body } = await request(tracker.app).post("/sessions").send({ userId: user, password: "pw", peerAddress: "127.0.0.1:7001" }).expect(201);
    tokens[user] = body.token;
  }
  await as("alice").post("/groups", { groupId: "club" }).expect(201);
  await as("bob").post("/groups/club/join-requests").expect(201);
  await as("alice").post("/groups/club/join-requests/bob/accept").expect(200);
  await as("alice").post("/groups/club/files", { fileName: "a.bin", size: 10, sha1: "a".repeat(40), pieceSize: 524288, pieceHashes: ["b".repeat(40)] }).expect(201);
});
after(async () => { await tracker.close(); });

const as = (user: string) => ({
  get: (path: string) => request(tracker.app).get(path).set("authorization", `Bearer ${tokens[user]}`),
  post: (path: string, body?: object) => request(tracker.app).post(path).set("authorization", `Bearer ${tokens[user]}`).send(body),
  delete: (path: string) => request(tracker.app).delete(path).set("authorization", `Bearer ${tokens[user]}`),
});

async function grantInUse(user: string) {
  const { body } = await as(user).get("/groups/club/files/a.bin/peers").expect(200);
  const claims = decodeJwt(body.grant);
  return { userId: String(claims.sub), groupId: String(claims.grp), sessionId: String(claims.sid) };
}

const stands = async (grant: object) => (await as("alice").post("/grants/status", { grants: [grant] }).expect(200)).body.valid[0] as boolean;

test("a grant stands while its session is live and its user a member, and not once the user leaves", async () => {
  const grant = await grantInUse("bob");
  assert.equal(await stands(grant), true);
  assert.equal(await stands({ ...grant, sessionId: "someone-else" }), false, "another session's id does not stand for it");
  await as("bob").delete("/groups/club/members/bob").expect(204);
  assert.equal(await stands(grant), false);
});
