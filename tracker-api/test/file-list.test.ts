import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import request from "supertest";
import { startTrackerApp, userIdOf } from "./support/tracker-app.js";
import { assertMatchesSpec } from "./support/openapi.js";

// The file list of a group is kept in memory between changes; these pin down that every change shows at once.
let tracker: Awaited<ReturnType<typeof startTrackerApp>>;
const tokens: Record<string, string> = {};
const PIECE = 512 * 1024;
const file = (fileName: string) => ({ fileName, size: PIECE, sha1: "a".repeat(40), pieceSize: PIECE, pieceHashes: ["b".repeat(40)] });

const as = (user: string) => ({
  get: (path: string) => request(tracker.app).get(path).set("authorization", `Bearer ${tokens[user]}`),
  post: (path: string, body?: object) => request(tracker.app).post(path).set("authorization", `Bearer ${tokens[user]}`).send(body),
  delete: (path: string) => request(tracker.app).delete(path).set("authorization", `Bearer ${tokens[user]}`),
});
const holders = async (user: string) =>
  Object.fromEntries(((await as(user).get("/groups/crew/files").expect(200)).body.items as { fileName: string; sharedBy: string[]; peersOnline: number }[])
    .map((f) => [f.fileName, `${f.sharedBy.join(",")} online:${f.peersOnline}`]));

before(async () => {
  tracker = await startTrackerApp();
  for (const user of ["ann", "ben", "cat"]) {
    await request(tracker.app).post("/users").send({ userId: user, password: "pw" }).expect(201);
    tokens[user] = (await request(tracker.app).post("/sessions")
      .send({ userId: user, password: "pw", peerAddress: "127.0.0.1:7001" }).expect(201)).body.token;
  }
  await as("ann").post("/groups", { groupId: "crew" }).expect(201);
  for (const user of ["ben", "cat"]) {
    await as(user).post("/groups/crew/join-requests").expect(201);
    await as("ann").post(`/groups/crew/join-requests/${user}/accept`).expect(200);
  }
  await as("ann").post("/groups/crew/files", file("a.bin")).expect(201);
});
after(async () => { await tracker.close(); });

test("an unchanged file list keeps its ETag and answers 304 to If-None-Match", async () => {
  const first = await as("ben").get("/groups/crew/files").expect(200);
  await assertMatchesSpec("/groups/{groupId}/files", "get", 200, first.body);
  assert.match(first.headers["content-type"]!, /^application\/json/);
  const etag = first.headers.etag!;
  assert.equal((await as("cat").get("/groups/crew/files").expect(200)).headers.etag, etag);
  await as("cat").get("/groups/crew/files").set("if-none-match", etag).expect(304);
  await as("ann").post("/groups/crew/files", file("b.bin")).expect(201);
  assert.notEqual((await as("cat").get("/groups/crew/files").expect(200)).headers.etag, etag);
});

test("a holder added by an announce is in the next file list", async () => {
  await holders("ben");
  await as("cat").post("/peers/announce", { holdings: [{ groupId: "crew", fileName: "a.bin", sha1: "a".repeat(40), piecesHeld: 0 }] }).expect(200);
  assert.equal((await holders("ben"))["a.bin"], "ann,cat online:2");
});

test("a holder who goes silent is counted offline in the next file list, with no write in between", async () => {
  assert.equal((await holders("ben"))["a.bin"], "ann,cat online:2");
  await tracker.db.session.updateMany({ where: { userId: await userIdOf(tracker.db, "cat") }, data: { lastSeenAt: new Date(Date.now() - 61_000) } });
  assert.equal((await holders("ben"))["a.bin"], "ann,cat online:1");
  await as("cat").post("/peers/announce", { holdings: [] }).expect(200);
  assert.equal((await holders("ben"))["a.bin"], "ann,cat online:2");
});

test("a member who leaves the group is gone from the next file list, with the files only they held", async () => {
  await as("ben").post("/groups/crew/files", file("only-ben.bin")).expect(201);
  await as("ben").post("/groups/crew/files", file("a.bin")).expect(200);
  assert.deepEqual(Object.keys(await holders("ann")).sort(), ["a.bin", "b.bin", "only-ben.bin"]);
  await as("ben").delete("/groups/crew/members/ben").expect(204);
  const after = await holders("ann");
  assert.deepEqual(Object.keys(after).sort(), ["a.bin", "b.bin"]);
  assert.equal(after["a.bin"], "ann,cat online:2");
});

test("a recreated group does not show the files of the deleted one", async () => {
  await request(tracker.app).post("/users").send({ userId: "solo", password: "pw" }).expect(201);
  tokens.solo = (await request(tracker.app).post("/sessions")
    .send({ userId: "solo", password: "pw", peerAddress: "127.0.0.1:7009" }).expect(201)).body.token;
  await as("solo").post("/groups", { groupId: "brief" }).expect(201);
  await as("solo").post("/groups/brief/files", file("old.bin")).expect(201);
  assert.equal((await as("solo").get("/groups/brief/files").expect(200)).body.items.length, 1);
  await as("solo").delete("/groups/brief/members/solo").expect(204);
  await as("solo").post("/groups", { groupId: "brief" }).expect(201);
  assert.deepEqual((await as("solo").get("/groups/brief/files").expect(200)).body, { items: [], nextCursor: null });
});
