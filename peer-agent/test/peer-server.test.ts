import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { exportJWK, generateKeyPair, type JSONWebKeySet } from "jose";
import { request } from "undici";
import { Bitfield } from "../../core/bitfield.js";
import { UnauthorizedError } from "../../core/errors.js";
import { signGrant, verifyGrant } from "../../core/grant.js";
import { createPeerServer } from "../src/http/server.js";
import { AGENT } from "../src/config.js";
import type { ServedFile } from "../src/http/served-file.js";

const PIECE = 1024; // small pieces keep the fixture tiny; the server takes the size from the file record
let dir: string;
let server: Server;
let base: string;
let data: Buffer;
let file: ServedFile;
let grant: string;
let jwksForCount: JSONWebKeySet;
let signingKey: { privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"]; kid: string; issuer: string };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "peer-server-"));
  data = randomBytes(PIECE * 4 + 100);
  const path = join(dir, "shared.bin");
  await writeFile(path, data);
  const sha1 = createHash("sha1").update(data).digest("hex");
  const verified = new Bitfield(5);
  for (const piece of [0, 1, 2]) verified.set(piece);
  file = { groupId: "team", sha1, size: data.length, pieceSize: PIECE, path, verified };

  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  signingKey = { privateKey, kid: "tracker-1", issuer: "tracker-1" };
  const jwks: JSONWebKeySet = { keys: [{ ...(await exportJWK(publicKey)), kid: "tracker-1", alg: "EdDSA" }] };
  grant = await signGrant({ userId: "dave", groupId: "team", sha1, fileName: "shared.bin" }, signingKey);
  jwksForCount = jwks;

  server = createPeerServer({
    files: { find: (groupId, sha) => (groupId === file.groupId && sha === file.sha1 ? file : undefined) },
    checkGrant: async (token, expected) => {
      if (!token) throw new UnauthorizedError("grant required", "GRANT_MISSING");
      return (await verifyGrant(token, jwks, expected)).sub;
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

function get(path: string, headers: Record<string, string> = {}, method: "GET" | "HEAD" = "GET") {
  return request(`${base}${path}`, { method, headers: { authorization: `Bearer ${grant}`, ...headers } });
}

test("the bitfield lists exactly the verified pieces", async () => {
  const response = await get(`/groups/team/files/${file.sha1}/bitfield`);
  assert.equal(response.statusCode, 200);
  const body = (await response.body.json()) as { pieceCount: number; piecesHeld: number; bitfield: string };
  assert.equal(body.pieceCount, 5);
  assert.equal(body.piecesHeld, 3);
  const field = Bitfield.fromBase64(5, body.bitfield);
  assert.deepEqual(field.missing(), [3, 4]);
});

test("an idle connection is kept open longer than a downloader keeps it, so the downloader is the one that closes it", async () => {
  const response = await get(`/groups/team/files/${file.sha1}`, { range: "bytes=0-99" });
  await response.body.arrayBuffer();
  const seconds = Number(/timeout=(\d+)/.exec(String(response.headers["keep-alive"]))?.[1]);
  assert.ok(seconds * 1000 > AGENT.PEER_KEEP_ALIVE_MS, `keep-alive: ${response.headers["keep-alive"]}`);
});

test("a range inside verified pieces is answered 206 with the exact bytes", async () => {
  const response = await get(`/groups/team/files/${file.sha1}`, { range: "bytes=1000-2047" });
  assert.equal(response.statusCode, 206);
  assert.equal(response.headers["content-range"], `bytes 1000-2047/${data.length}`);
  const body = Buffer.from(await response.body.arrayBuffer());
  assert.ok(body.equals(data.subarray(1000, 2048)));
});

test("HEAD answers the headers of a range without a body", async () => {
  const response = await get(`/groups/team/files/${file.sha1}`, { range: "bytes=0-9" }, "HEAD");
  assert.equal(response.statusCode, 206);
  assert.equal(response.headers["content-length"], "10");
  assert.equal((await response.body.arrayBuffer()).byteLength, 0);
});

test("a range touching a piece not yet verified is refused", async () => {
  const response = await get(`/groups/team/files/${file.sha1}`, { range: `bytes=${PIECE * 3}-${PIECE * 3 + 10}` });
  assert.equal(response.statusCode, 416);
  assert.equal(response.headers["content-type"], "application/problem+json");
  assert.equal(((await response.body.json()) as { code: string }).code, "PIECES_NOT_HELD");
});

test("a range past the end is refused with the size in Content-Range", async () => {
  const response = await get(`/groups/team/files/${file.sha1}`, { range: `bytes=${data.length}-` });
  assert.equal(response.statusCode, 416);
  assert.equal(response.headers["content-range"], `bytes */${data.length}`);
  await response.body.dump();
});

test("a multi-range request to a peer holding part of the file is answered as one without Range: 409 FILE_INCOMPLETE", async () => {
  const response = await get(`/groups/team/files/${file.sha1}`, { range: "bytes=0-1,4-5" });
  assert.equal(response.statusCode, 409);
  assert.equal(((await response.body.json()) as { code: string }).code, "FILE_INCOMPLETE");
});

test("a request without a grant is unauthorized", async () => {
  const response = await request(`${base}/groups/team/files/${file.sha1}/bitfield`);
  assert.equal(response.statusCode, 401);
  assert.equal(((await response.body.json()) as { code: string }).code, "GRANT_MISSING");
});

test("a grant for another file is forbidden", async () => {
  const other = await signGrant({ userId: "dave", groupId: "team", sha1: "b".repeat(40), fileName: "x" }, signingKey);
  const response = await get(`/groups/team/files/${file.sha1}/bitfield`, { authorization: `Bearer ${other}` });
  assert.equal(response.statusCode, 403);
  await response.body.dump();
});

test("a file this peer does not share is not found, and paths in the URL are never opened", async () => {
  for (const path of ["/groups/team/files/" + "c".repeat(40), "/groups/team/files/..%2F..%2Fetc%2Fpasswd",
    "/groups/..%2F/files/" + file.sha1]) {
    const response = await get(path);
    assert.ok([403, 404].includes(response.statusCode), `${path} -> ${response.statusCode}`);
    assert.equal(response.headers["content-type"], "application/problem+json");
    await response.body.dump();
  }
});

test("one requester's streams are bounded: extra requests wait, then get 429 with Retry-After, while another requester is served at once", async () => {
  const big = Buffer.alloc(64 * 1024 * 1024, 1);
  const path = join(dir, "big.bin");
  await writeFile(path, big);
  const bigFile: ServedFile = { groupId: "team", sha1: "d".repeat(40), size: big.length, pieceSize: 1024 * 1024, path, verified: Bitfield.full(64) };
  const limited = createPeerServer({
    files: { find: (_groupId, sha) => (sha === bigFile.sha1 ? bigFile : undefined) },
    checkGrant: async (token) => token ?? "nobody", // the token names the requester
    uploadSlots: { maxStreamsPerRequester: 1, maxQueuedPerRequester: 1 },
  });
  await new Promise<void>((resolve) => limited.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(limited.address() as AddressInfo).port}/groups/team/files/${bigFile.sha1}`;
  const ask = (requester: string, range: string) => request(url, { headers: { authorization: `Bearer ${requester}`, range } });
  try {
    // greedy's first stream is not read, so it stays open.
    const held = await ask("greedy", `bytes=0-${big.length - 1}`);
    assert.equal(held.statusCode, 206);
    let queuedAnswered = false;
    const queued = ask("greedy", "bytes=0-9").then((response) => {
      queuedAnswered = true;
      return response;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await ask("greedy", "bytes=0-9");
    assert.equal(refused.statusCode, 429);
    assert.equal(refused.headers["retry-after"], "1");
    assert.equal(((await refused.body.json()) as { code: string }).code, "PEER_BUSY");

    const other = await ask("polite", "bytes=0-9");
    assert.equal(other.statusCode, 206);
    assert.equal((await other.body.arrayBuffer()).byteLength, 10);
    assert.equal(queuedAnswered, false, "greedy's second request waits while its first stream is open");

    await held.body.dump();
    const served = await queued;
    assert.equal(served.statusCode, 206);
    await served.body.dump();
  } finally {
    limited.closeAllConnections();
    await new Promise((resolve) => limited.close(resolve));
  }
});

test("a grant check is done once per grant and file, not on every range request", async () => {
  let checks = 0;
  const counting = createPeerServer({
    files: { find: (groupId, sha) => (groupId === file.groupId && sha === file.sha1 ? file : undefined) },
    checkGrant: async (token, expected) => {
      checks++;
      return (await verifyGrant(token!, jwksForCount, expected)).sub;
    },
  });
  await new Promise<void>((resolve) => counting.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(counting.address() as AddressInfo).port}/groups/team/files/${file.sha1}`;
  try {
    for (let i = 0; i < 5; i++) {
      const response = await request(url, { headers: { authorization: `Bearer ${grant}`, range: "bytes=0-9" } });
      assert.equal(response.statusCode, 206);
      await response.body.dump();
    }
    assert.equal(checks, 1);
  } finally {
    counting.closeAllConnections();
    await new Promise((resolve) => counting.close(resolve));
  }
});
