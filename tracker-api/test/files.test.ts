import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import request from "supertest";
import { startTrackerApp } from "./support/tracker-app.js";
import { assertMatchesSpec } from "./support/openapi.js";

let tracker: Awaited<ReturnType<typeof startTrackerApp>>;
const tokens: Record<string, string> = {};
const PIECE = 512 * 1024;
const hash = (c: string) => c.repeat(40);

function metadata(fileName: string, size: number, sha1 = hash("a")) {
  return { fileName, size, sha1, pieceSize: PIECE, pieceHashes: Array.from({ length: Math.ceil(size / PIECE) }, () => hash("b")) };
}

const as = (user: string) => ({
  get: (path: string) => request(tracker.app).get(path).set("authorization", `Bearer ${tokens[user]}`),
  post: (path: string, body?: object) => request(tracker.app).post(path).set("authorization", `Bearer ${tokens[user]}`).send(body),
  delete: (path: string) => request(tracker.app).delete(path).set("authorization", `Bearer ${tokens[user]}`),
});
const code = (response: { text: string }) => JSON.parse(response.text).code as string;

before(async () => {
  tracker = await startTrackerApp();
  for (const user of ["alice", "bob", "eve"]) {
    await request(tracker.app).post("/users").send({ userId: user, password: "pw" }).expect(201);
    tokens[user] = (await request(tracker.app).post("/sessions")
      .send({ userId: user, password: "pw", peerAddress: "127.0.0.1:7001" }).expect(201)).body.token;
  }
  await as("alice").post("/groups", { groupId: "team" }).expect(201);
  await as("bob").post("/groups/team/join-requests").expect(201);
  await as("alice").post("/groups/team/join-requests/bob/accept").expect(200);
});
after(async () => { await tracker.close(); });

test("sharing a file registers its metadata and the sharer as an online holder", async () => {
  const response = await as("alice").post("/groups/team/files", metadata("movie.mp4", 3 * PIECE + 1));
  assert.equal(response.status, 201);
  await assertMatchesSpec("/groups/{groupId}/files", "post", 201, response.body);
  assert.equal(response.body.pieceCount, 4);
  assert.equal(response.body.peersOnline, 1);
  const listed = await as("bob").get("/groups/team/files");
  await assertMatchesSpec("/groups/{groupId}/files", "get", 200, listed.body);
  assert.deepEqual(listed.body.items.map((f: { fileName: string; sharedBy: string[] }) => [f.fileName, f.sharedBy]),
    [["movie.mp4", ["alice"]]]);
  assert.equal(listed.body.nextCursor, null);
});

test("the same file shared by another member adds a holder", async () => {
  const response = await as("bob").post("/groups/team/files", metadata("movie.mp4", 3 * PIECE + 1));
  assert.equal(response.status, 200);
  assert.deepEqual(response.body.sharedBy, ["alice", "bob"]);
  assert.equal(response.body.peersOnline, 2);
});

test("the same name with different content is a 409", async () => {
  const response = await as("bob").post("/groups/team/files", metadata("movie.mp4", 3 * PIECE + 1, hash("c")));
  assert.equal(response.status, 409);
  assert.equal(code(response), "FILE_NAME_TAKEN");
});

test("a piece list that does not match the size is refused and nothing is stored", async () => {
  const bad = { ...metadata("short.bin", 2 * PIECE), pieceHashes: [hash("b")] };
  const response = await as("alice").post("/groups/team/files", bad);
  assert.equal(response.status, 400);
  assert.equal(code(response), "PIECE_COUNT_MISMATCH");
  assert.equal(await tracker.db.sharedFile.count({ where: { fileName: "short.bin" } }), 0);
});

test("file names that are paths, dot names or contain NUL are refused", async () => {
  for (const fileName of ["../etc/passwd", "a/b", "a\\b", "..", ".", "nul\u0000byte"]) {
    const response = await as("alice").post("/groups/team/files", metadata(fileName, 10));
    assert.equal(response.status, 400, JSON.stringify(fileName));
  }
});

test("negative, fractional and huge sizes and a wrong piece size are refused", async () => {
  for (const body of [
    { ...metadata("n.bin", 10), size: -1 },
    { ...metadata("f.bin", 10), size: 1.5 },
    { ...metadata("h.bin", 10), size: 2 ** 60 },
    { ...metadata("p.bin", 10), pieceSize: 1024 },
  ]) {
    assert.equal((await as("alice").post("/groups/team/files", body)).status, 400, JSON.stringify(body.size));
  }
});

test("a non-member can neither list nor share files", async () => {
  const listed = await as("eve").get("/groups/team/files");
  assert.equal(listed.status, 403);
  assert.equal(code(listed), "NOT_MEMBER");
  assert.equal((await as("eve").post("/groups/team/files", metadata("x.bin", 10))).status, 403);
});

test("stopping sharing removes the holder, and the last holder takes the file out of the group", async () => {
  await as("alice").delete("/groups/team/files/movie.mp4/holders/me").expect(204);
  assert.deepEqual((await as("bob").get("/groups/team/files")).body.items[0].sharedBy, ["bob"]);
  assert.equal((await as("alice").delete("/groups/team/files/movie.mp4/holders/me")).status, 404);
  await as("bob").delete("/groups/team/files/movie.mp4/holders/me").expect(204);
  assert.deepEqual((await as("bob").get("/groups/team/files")).body, { items: [], nextCursor: null });
});

test("a logged-out holder is not counted as online", async () => {
  await as("bob").post("/groups/team/files", metadata("song.mp3", 100)).expect(201);
  await as("bob").delete("/sessions/current").expect(204);
  const listed = await as("alice").get("/groups/team/files");
  assert.equal(listed.body.items[0].peersOnline, 0);
  assert.deepEqual(listed.body.items[0].sharedBy, ["bob"]);
});
