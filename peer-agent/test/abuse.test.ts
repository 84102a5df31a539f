/**
 * Attacks on a peer agent's piece server from outside: every request that is
 * not a member's well-formed request for verified pieces is refused, and
 * connections that never finish their request are cut. Over TLS, as agents
 * serve by default (the certificate is not what these tests are about).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { request } from "undici";
import { Bitfield } from "../../core/bitfield.js";
import { signGrant } from "../../core/grant.js";
import { createGrantCheck } from "../src/grant-check.js";
import { createPeerServer } from "../src/http/server.js";
import { createSelfSigned } from "../src/tls/self-signed.js";
import { anyCertificate } from "./support/agent-tls.js";

const PIECE = 1024;
let dir: string;
let server: Server;
let base: string;
let port: number;
let sha1: string;
let size: number;
const grants: Record<string, string> = {};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "agent-abuse-"));
  const data = randomBytes(PIECE * 4 + 10);
  size = data.length;
  await writeFile(join(dir, "secret.bin"), data);
  await writeFile(join(dir, "other.bin"), "not shared");
  sha1 = createHash("sha1").update(data).digest("hex");
  const tracker = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const stranger = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const jwks = { keys: [{ ...(await exportJWK(tracker.publicKey)), kid: "tracker-1", alg: "EdDSA" }] };
  const subject = { userId: "bob", groupId: "club", sha1, fileName: "secret.bin" };
  grants.valid = await signGrant(subject, { privateKey: tracker.privateKey, kid: "tracker-1", issuer: "tracker-1" });
  grants.otherGroup = await signGrant({ ...subject, groupId: "other" }, { privateKey: tracker.privateKey, kid: "tracker-1", issuer: "tracker-1" });
  grants.otherFile = await signGrant({ ...subject, sha1: "b".repeat(40) }, { privateKey: tracker.privateKey, kid: "tracker-1", issuer: "tracker-1" });
  grants.strangerKey = await signGrant(subject, { privateKey: stranger.privateKey, kid: "tracker-1", issuer: "tracker-1" });
  grants.unknownKid = await signGrant(subject, { privateKey: stranger.privateKey, kid: "mallory", issuer: "mallory" });
  grants.expired = await new SignJWT({ grp: "club", sha1, file: "secret.bin" })
    .setProtectedHeader({ alg: "EdDSA", kid: "tracker-1" })
    .setSubject("bob")
    .setIssuedAt(Math.floor(Date.now() / 1000) - 1200)
    .setExpirationTime(Math.floor(Date.now() / 1000) - 600)
    .sign(tracker.privateKey);
  const [header, payload] = grants.valid!.split(".");
  grants.noSignature = `${header}.${payload}.`;
  grants.algNone = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${payload}.`;

  const verified = new Bitfield(5);
  for (const piece of [0, 1, 2]) verified.set(piece);
  const served = { groupId: "club", sha1, size, pieceSize: PIECE, path: join(dir, "secret.bin"), verified };
  server = createPeerServer({
    files: { find: (groupId, s) => (groupId === "club" && s === sha1 ? served : undefined) },
    checkGrant: createGrantCheck(async () => jwks),
    headersTimeoutMs: 500,
    tls: createSelfSigned(),
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  port = (server.address() as AddressInfo).port;
  base = `https://127.0.0.1:${port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
  await rm(dir, { recursive: true, force: true });
});

async function status(path: string, grant: string | undefined, headers: Record<string, string> = {}): Promise<number> {
  const response = await request(`${base}${path}`, { dispatcher: anyCertificate, headers: { ...(grant ? { authorization: `Bearer ${grant}` } : {}), ...headers } });
  await response.body.dump();
  return response.statusCode;
}

test("grants that are missing, expired, unsigned, signed by a key no tracker publishes, or for another group or file are refused", async () => {
  const bytes = `/groups/club/files/${sha1}`;
  assert.equal(await status(bytes, undefined, { range: "bytes=0-9" }), 401);
  for (const name of ["expired", "noSignature", "algNone", "strangerKey", "unknownKid"]) {
    assert.equal(await status(bytes, grants[name], { range: "bytes=0-9" }), 401, name);
  }
  assert.equal(await status(bytes, grants.otherFile, { range: "bytes=0-9" }), 403);
  assert.equal(await status(`/groups/other/files/${sha1}`, grants.valid, { range: "bytes=0-9" }), 403);
  assert.equal(await status(`/groups/other/files/${sha1}`, grants.otherGroup, { range: "bytes=0-9" }), 404);
  assert.equal(await status(bytes, grants.valid, { range: "bytes=0-9" }), 206, "the genuine grant still works");
});

test("malformed, negative, overflowing and out-of-range byte ranges are refused with 416", async () => {
  const bytes = `/groups/club/files/${sha1}`;
  const bad = ["bytes=-", "bytes=abc", "bytes=5-1", "bytes=-0", "bytes=-5-9", `bytes=0-${"9".repeat(40)}`,
    `bytes=${size}-`, "bytes=3072-3080", "bytes=0x10-0x20"];
  for (const range of bad) assert.equal(await status(bytes, grants.valid, { range }), 416, range);
});

test("multiple ranges and other units are ignored, so a peer holding part of the file answers 409, never 416", async () => {
  const bytes = `/groups/club/files/${sha1}`;
  for (const range of ["bytes=0-1,4-5", "items=0-1"]) assert.equal(await status(bytes, grants.valid, { range }), 409, range);
});

test("paths that try to reach other files are never opened", async () => {
  for (const path of [`/groups/club/files/..%2Fother.bin`, `/groups/club/files/${sha1}/../../other.bin`, "/etc/passwd", `/groups/..%2F..%2Fetc/files/${sha1}`]) {
    assert.ok([404, 400].includes(await status(path, grants.valid)), path);
  }
});

test("bad percent-encoding in a path is a 400 problem, not a server error", async () => {
  for (const path of [`/groups/%ZZ/files/${sha1}`, `/groups/%E0%A4%A/files/${sha1}`, `/groups/club/files/%ZZ/bitfield`]) {
    const response = await request(`${base}${path}`, { dispatcher: anyCertificate, headers: { authorization: `Bearer ${grants.valid}` } });
    assert.equal(response.statusCode, 400, path);
    assert.equal(response.headers["content-type"], "application/problem+json");
    assert.equal(((await response.body.json()) as { code: string }).code, "BAD_PERCENT_ENCODING", path);
  }
});

test("a connection that never finishes its request head is closed", async () => {
  const socket = connect({ port, host: "127.0.0.1", rejectUnauthorized: false });
  await once(socket, "secureConnect");
  socket.write(`GET /groups/club/files/${sha1} HTTP/1.1\r\nHost: x\r\n`);
  const started = Date.now();
  socket.on("error", () => undefined); // the server may cut the connection while a header is being written
  const timer = setInterval(() => {
    if (!socket.destroyed) socket.write("X-Slow: 1\r\n");
  }, 100);
  await new Promise((closed) => socket.on("close", closed));
  clearInterval(timer);
  assert.ok(Date.now() - started < 5000, "cut within a few seconds, not kept open");
});
