/**
 * Attacks from outside against two synchronized tracker processes: every case
 * gets a clear problem+json refusal, and the state digest of both trackers is
 * the same before and after.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { request } from "undici";
import { call, Cluster, converged, createUser, login, type Answer } from "../replication/cluster.js";

let cluster: Cluster;
let base: string;
let owner: string;
let member: string;
let outsider: string;
let digestBefore: string;

const sha = "a".repeat(40);
const share = (overrides: Record<string, unknown> = {}) => ({
  fileName: "film.mkv", size: 1000, sha1: sha, pieceSize: 524288, pieceHashes: [sha], ...overrides,
});

before(async () => {
  cluster = await Cluster.start(2);
  base = cluster.tracker(1).url;
  for (const user of ["owner", "member", "outsider"]) assert.equal((await createUser(base, user)).status, 201);
  owner = await login(base, "owner");
  member = await login(base, "member");
  outsider = await login(base, "outsider");
  assert.equal((await call(base, "POST", "/groups", { token: owner, body: { groupId: "club" } })).status, 201);
  await call(base, "POST", "/groups/club/join-requests", { token: member });
  assert.equal((await call(base, "POST", "/groups/club/join-requests/member/accept", { token: owner })).status, 200);
  assert.equal((await call(base, "POST", "/groups/club/files", { token: owner, body: share() })).status, 201);
  await call(base, "POST", "/groups/club/join-requests", { token: outsider });
  digestBefore = await converged(cluster);
});

after(() => cluster.stop());

function assertRefused(answer: Answer, status: number, what: string): void {
  assert.equal(answer.status, status, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body?.status, status, `${what} answers a problem document`);
  assert.equal(typeof answer.body?.code, "string", `${what} has a machine-readable code`);
}

test("requests without a token or with a forged, tampered or logged-out one are refused with 401", async () => {
  const throwaway = await login(base, "member");
  assert.equal((await call(base, "DELETE", "/sessions/current", { token: throwaway })).status, 204);
  const tampered = `${member.slice(0, -2)}${member.endsWith("AA") ? "BB" : "AA"}`;
  for (const token of [undefined, "forged-token-that-is-long-enough-0000", tampered, throwaway]) {
    assertRefused(await call(base, "GET", "/groups/club/files", { ...(token ? { token } : {}) }), 401, `token ${String(token).slice(0, 8)}`);
    assertRefused(await call(base, "POST", "/groups", { ...(token ? { token } : {}), body: { groupId: "stolen" } }), 401, "create group");
  }
});

test("a non-member cannot list a group's files or ask for peers and grants", async () => {
  assertRefused(await call(base, "GET", "/groups/club/files", { token: outsider }), 403, "list files");
  assertRefused(await call(base, "GET", "/groups/club/files/film.mkv/peers", { token: outsider }), 403, "peers");
  assertRefused(await call(base, "POST", "/groups/club/files", { token: outsider, body: share({ fileName: "x.bin" }) }), 403, "share");
});

test("a non-owner cannot see or decide join requests, and a request that does not exist cannot be accepted", async () => {
  assertRefused(await call(base, "GET", "/groups/club/join-requests", { token: member }), 403, "list requests");
  assertRefused(await call(base, "POST", "/groups/club/join-requests/outsider/accept", { token: member }), 403, "accept");
  assertRefused(await call(base, "POST", "/groups/club/join-requests/outsider/accept", { token: outsider }), 403, "self-accept");
  assertRefused(await call(base, "POST", "/groups/club/join-requests/nobody/accept", { token: owner }), 404, "accept nobody");
});

test("ids with path characters, control characters, unicode tricks or 10,000 characters are refused", async () => {
  const bad = ["../etc", "a/b", "a\\b", "..", "x\u0000y", "caf\u00e9", "a\u202eb", "\u2025", "a".repeat(10_000), ""];
  for (const id of bad) {
    assertRefused(await call(base, "POST", "/users", { body: { userId: id, password: "pw" } }), 400, `user id ${JSON.stringify(id.slice(0, 12))}`);
    assertRefused(await call(base, "POST", "/groups", { token: owner, body: { groupId: id } }), 400, `group id ${JSON.stringify(id.slice(0, 12))}`);
  }
});

test("file names that are paths or tricks are refused", async () => {
  for (const fileName of ["../x", "a/b", "a\\b", ".", "..", "x\u0000y", "a".repeat(10_000), ""]) {
    assertRefused(await call(base, "POST", "/groups/club/files", { token: member, body: share({ fileName }) }), 400, `file name ${JSON.stringify(fileName.slice(0, 12))}`);
  }
});

test("share metadata whose pieces do not match the size, or with negative or huge sizes, is refused", async () => {
  const cases = [
    share({ fileName: "short.bin", size: 524289 }),
    share({ fileName: "long.bin", pieceHashes: [sha, sha] }),
    share({ fileName: "neg.bin", size: -1 }),
    share({ fileName: "huge.bin", size: 2 ** 60 }),
    share({ fileName: "frac.bin", size: 1.5 }),
    share({ fileName: "piece.bin", pieceSize: 1024 }),
    share({ fileName: "hash.bin", sha1: "not-a-sha1" }),
    { ...share({ fileName: "extra.bin" }), owner: "me" },
  ];
  for (const body of cases) {
    assertRefused(await call(base, "POST", "/groups/club/files", { token: member, body }), 400, JSON.stringify(body).slice(0, 60));
  }
});

test("malformed JSON is a 400 and a body over the limit a 413", async () => {
  assertRefused(await call(base, "POST", "/users", { rawBody: '{"userId": "x", ', headers: { "content-type": "application/json" } }), 400, "malformed");
  const big = JSON.stringify({ userId: "big", password: "x".repeat(9 * 1024 * 1024) });
  const response = await request(`${base}/users`, { method: "POST", headers: { "content-type": "application/json" }, body: big });
  const body = JSON.parse(await response.body.text());
  assertRefused({ status: response.statusCode, body }, 413, "oversized body");
});

test("a login brute force is throttled with 429 and Retry-After", async () => {
  let last = await call(base, "POST", "/sessions", { body: { userId: "owner", password: "guess-0", peerAddress: "127.0.0.1:7001" } });
  for (let i = 1; i < 10 && last.status !== 429; i++) {
    last = await call(base, "POST", "/sessions", { body: { userId: "owner", password: `guess-${i}`, peerAddress: "127.0.0.1:7001" } });
  }
  assertRefused(last, 429, "brute force");
  const response = await request(`${base}/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ userId: "owner", password: "pw", peerAddress: "127.0.0.1:7001" }),
  });
  await response.body.dump();
  assert.equal(response.statusCode, 429, "the throttle holds even for the right password until it expires");
  assert.ok(Number(response.headers["retry-after"]) >= 1);
});

test("a flood of forged replication deliveries is refused and does not block client requests", async () => {
  const forged = Array.from({ length: 200 }, (_, i) =>
    call(base, "POST", "/replication/events", { body: { events: [{ origin: "tracker-2", seq: 10_000 + i }] }, headers: { "x-signature": "t=1,v1=00" } }),
  );
  const started = Date.now();
  const listing = await call(base, "GET", "/groups", { token: member });
  const answers = await Promise.all(forged);
  assert.equal(listing.status, 200);
  assert.ok(Date.now() - started < 5000);
  for (const answer of answers) assert.equal(answer.status, 401);
});

test("none of the attacks changed the state of either tracker", async () => {
  assert.equal(await converged(cluster), digestBefore);
});
