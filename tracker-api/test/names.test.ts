import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import request from "supertest";
import { startTrackerApp } from "./support/tracker-app.js";

let tracker: Awaited<ReturnType<typeof startTrackerApp>>;
let token: string;

before(async () => {
  tracker = await startTrackerApp();
  await request(tracker.app).post("/users").send({ userId: "alice", password: "pw" }).expect(201);
  const { body } = await request(tracker.app).post("/sessions").send({ userId: "alice", password: "pw", peerAddress: "127.0.0.1:7001" }).expect(201);
  token = body.token;
  await request(tracker.app).post("/groups").set("authorization", `Bearer ${token}`).send({ groupId: "movies" }).expect(201);
});
after(async () => { await tracker.close(); });

const share = (fileName: string) => request(tracker.app).post("/groups/movies/files").set("authorization", `Bearer ${token}`)
  .send({ fileName, size: 1, sha1: "a".repeat(40), pieceSize: 524288, pieceHashes: ["b".repeat(40)] });

test("the tracker refuses a shared file name longer than 250 UTF-8 bytes, counting bytes and not characters", async () => {
  for (const name of ["é".repeat(200), "a".repeat(251)]) {
    const response = await share(name);
    assert.equal(response.status, 400, `${name.length} characters`);
    assert.equal(JSON.parse(response.text).code, "BAD_FILE_NAME");
  }
  assert.equal((await share("a".repeat(250))).status, 201, "250 bytes fit with .part");
});

test("the tracker refuses a shared file name with a bidi or control character", async () => {
  for (const name of ["invoice\u202efdp.exe", "a\u2066b", "a\u200eb", "a\u0085b", "a\u0007b"]) {
    const response = await share(name);
    assert.equal(response.status, 400, JSON.stringify(name));
    assert.equal(JSON.parse(response.text).code, "BAD_FILE_NAME");
  }
});

test("the tracker refuses user and group ids with a bidi or control character", async () => {
  const user = await request(tracker.app).post("/users").send({ userId: "bob\u202e", password: "pw" });
  assert.equal(user.status, 400);
  const group = await request(tracker.app).post("/groups").set("authorization", `Bearer ${token}`).send({ groupId: "mov\u2066ies" });
  assert.equal(group.status, 400);
});
