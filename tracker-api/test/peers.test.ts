import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import request from "supertest";
import { verifyGrant } from "../../core/grant.js";
import { startTrackerApp, userIdOf } from "./support/tracker-app.js";
import { assertMatchesSpec } from "./support/openapi.js";

let tracker: Awaited<ReturnType<typeof startTrackerApp>>;
const tokens: Record<string, string> = {};
const PIECE = 512 * 1024;
const file = { fileName: "big.iso", size: 4 * PIECE, sha1: "a".repeat(40), pieceSize: PIECE, pieceHashes: Array(4).fill("b".repeat(40)) };

const as = (user: string) => ({
  get: (path: string) => request(tracker.app).get(path).set("authorization", `Bearer ${tokens[user]}`),
  post: (path: string, body?: object) => request(tracker.app).post(path).set("authorization", `Bearer ${tokens[user]}`).send(body),
});

before(async () => {
  tracker = await startTrackerApp();
  const ports: Record<string, number> = { alice: 7001, bob: 7002, carol: 7003, eve: 7004 };
  for (const user of Object.keys(ports)) {
    await request(tracker.app).post("/users").send({ userId: user, password: "pw" }).expect(201);
    tokens[user] = (await request(tracker.app).post("/sessions")
      .send({ userId: user, password: "pw", peerAddress: `127.0.0.1:${ports[user]}` }).expect(201)).body.token;
  }
  await as("alice").post("/groups", { groupId: "team" }).expect(201);
  for (const user of ["bob", "carol"]) {
    await as(user).post("/groups/team/join-requests").expect(201);
    await as("alice").post(`/groups/team/join-requests/${user}/accept`).expect(200);
  }
  await as("alice").post("/groups/team/files", file).expect(201);
});
after(async () => { await tracker.close(); });

test("the peers of a file are the online holders other than the caller, with a grant their agents accept", async () => {
  await as("bob").post("/peers/announce", { holdings: [{ groupId: "team", fileName: "big.iso", sha1: file.sha1, piecesHeld: 2 }] })
    .expect(200);
  const response = await as("carol").get("/groups/team/files/big.iso/peers");
  assert.equal(response.status, 200);
  await assertMatchesSpec("/groups/{groupId}/files/{fileName}/peers", "get", 200, response.body);
  assert.deepEqual(response.body.peers.map((p: { userId: string; address: string; piecesHeld: number; complete: boolean }) =>
    [p.userId, p.address, p.piecesHeld, p.complete]), [["alice", "127.0.0.1:7001", 4, true], ["bob", "127.0.0.1:7002", 2, false]]);
  assert.equal(response.body.file.pieceHashes.length, 4);
  const jwks = (await request(tracker.app).get("/.well-known/jwks.json").expect(200)).body;
  const claims = await verifyGrant(response.body.grant, jwks, { groupId: "team", sha1: file.sha1 });
  assert.equal(claims.sub, "carol");
});

test("a non-member gets no peers and no grant", async () => {
  const response = await as("eve").get("/groups/team/files/big.iso/peers");
  assert.equal(response.status, 403);
  assert.ok(!("grant" in JSON.parse(response.text)));
});

test("an announce for a group the peer is not in is rejected and changes nothing", async () => {
  const response = await as("eve").post("/peers/announce",
    { holdings: [{ groupId: "team", fileName: "big.iso", sha1: file.sha1, piecesHeld: 4 }] });
  assert.equal(response.status, 200);
  assert.deepEqual(response.body.rejected, [{ groupId: "team", fileName: "big.iso", code: "NOT_MEMBER" }]);
  assert.equal(await tracker.db.holding.count({ where: { userId: await userIdOf(tracker.db, "eve") } }), 0);
});

test("a peer silent for more than 60 s is no longer handed out", async () => {
  await tracker.db.session.updateMany({ where: { userId: await userIdOf(tracker.db, "bob") }, data: { lastSeenAt: new Date(Date.now() - 61_000) } });
  const response = await as("carol").get("/groups/team/files/big.iso/peers");
  assert.deepEqual(response.body.peers.map((p: { userId: string }) => p.userId), ["alice"]);
});

test("peers of a file that is not shared is a 404", async () => {
  assert.equal((await as("carol").get("/groups/team/files/nothing.bin/peers")).status, 404);
});

test("health names the tracker", async () => {
  const response = await request(tracker.app).get("/health").expect(200);
  await assertMatchesSpec("/health", "get", 200, response.body);
  assert.equal(response.body.trackerId, "tracker-test");
});

test("the spec is served as JSON and Swagger UI at /docs", async () => {
  const spec = await request(tracker.app).get("/openapi.json").expect(200);
  assert.ok(spec.body.paths["/groups/{groupId}/files/{fileName}/peers"]);
  assert.ok(spec.body.components.securitySchemes.bearer);
  const docs = await request(tracker.app).get("/docs/").expect(200);
  assert.match(docs.text, /swagger-ui/i);
});

test("an announce of several holdings refuses each one the peer may not hold, with its reason, and records the others", async () => {
  const small = { fileName: "small.bin", size: 2 * PIECE, sha1: "c".repeat(40), pieceSize: PIECE, pieceHashes: Array(2).fill("d".repeat(40)) };
  await as("alice").post("/groups/team/files", small).expect(201);
  const response = await as("carol").post("/peers/announce", { holdings: [
    { groupId: "team", fileName: "big.iso", sha1: file.sha1, piecesHeld: 3 },
    { groupId: "team", fileName: "gone.bin", sha1: file.sha1, piecesHeld: 1 },
    { groupId: "team", fileName: "small.bin", sha1: file.sha1, piecesHeld: 1 },
    { groupId: "team", fileName: "small.bin", sha1: small.sha1, piecesHeld: 3 },
    { groupId: "elsewhere", fileName: "big.iso", sha1: file.sha1, piecesHeld: 1 },
  ] }).expect(200);
  assert.deepEqual(response.body.rejected, [
    { groupId: "team", fileName: "gone.bin", code: "FILE_NOT_FOUND" },
    { groupId: "team", fileName: "small.bin", code: "SHA1_MISMATCH" },
    { groupId: "team", fileName: "small.bin", code: "TOO_MANY_PIECES" },
    { groupId: "elsewhere", fileName: "big.iso", code: "NOT_MEMBER" },
  ]);
  const held = await tracker.db.holding.findMany({ where: { userId: await userIdOf(tracker.db, "carol") }, select: { fileName: true, piecesHeld: true } });
  assert.deepEqual(held, [{ fileName: "big.iso", piecesHeld: 3 }]);
});

test("an announce logs an event only for the holdings whose piece count changed", async () => {
  const carol = await userIdOf(tracker.db, "carol");
  const logged = () => tracker.db.event.count({ where: { type: "holding.upserted", payload: { contains: `"userId":"${carol}"` } } });
  const holdings = (big: number, small: number) => [
    { groupId: "team", fileName: "big.iso", sha1: file.sha1, piecesHeld: big },
    { groupId: "team", fileName: "small.bin", sha1: "c".repeat(40), piecesHeld: small },
  ];
  await as("carol").post("/peers/announce", { holdings: holdings(3, 1) }).expect(200);
  const before = await logged();
  await as("carol").post("/peers/announce", { holdings: holdings(3, 1) }).expect(200);
  assert.equal(await logged(), before);
  await as("carol").post("/peers/announce", { holdings: holdings(4, 1) }).expect(200);
  assert.equal(await logged(), before + 1);
  const held = await tracker.db.holding.findMany({ where: { userId: await userIdOf(tracker.db, "carol") }, select: { fileName: true, piecesHeld: true }, orderBy: { fileName: "asc" } });
  assert.deepEqual(held, [{ fileName: "big.iso", piecesHeld: 4 }, { fileName: "small.bin", piecesHeld: 1 }]);
});

test("the peer list hands out the certificate fingerprint an agent registered, and the new one once it re-registers", async () => {
  const [before, after] = ["1".repeat(64), "2".repeat(64)];
  const certOf = async () =>
    ((await as("carol").get("/groups/team/files/big.iso/peers").expect(200)).body.peers as { userId: string; certSha256?: string }[])
      .find((p) => p.userId === "bob")?.certSha256;
  await as("bob").post("/peers/announce", { peerCertSha256: before, holdings: [{ groupId: "team", fileName: "big.iso", sha1: file.sha1, piecesHeld: 2 }] }).expect(200);
  assert.equal(await certOf(), before);
  await as("bob").post("/peers/announce", { peerCertSha256: after, holdings: [] }).expect(200);
  assert.equal(await certOf(), after);
});

test("a fingerprint that is not 64 lowercase hex digits is refused at login", async () => {
  const response = await request(tracker.app).post("/sessions").send({ userId: "eve", password: "pw", peerAddress: "127.0.0.1:7004", peerCertSha256: "AB:CD" });
  assert.equal(response.status, 400);
});
