/**
 * The agent's byte server behaves as an HTTP range server (RFC 9110 §13-14):
 * validators, If-Range, range units, requests without a usable Range, and
 * methods it does not answer. A real server on port 0 with one complete and
 * one partly downloaded file.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { Bitfield } from "../../core/bitfield.js";
import { createPeerServer } from "../src/http/server.js";
import type { ServedFile } from "../src/http/served-file.js";

const PIECE = 1024;
const MODIFIED = new Date("2026-11-20T08:30:00.000Z");
let dir: string;
let server: Server;
let base: string;
let data: Buffer;
let complete: ServedFile;
let partial: ServedFile;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "range-server-"));
  data = randomBytes(PIECE * 3 + 100);
  const sha1 = createHash("sha1").update(data).digest("hex");
  await writeFile(join(dir, "complete.bin"), data);
  await utimes(join(dir, "complete.bin"), MODIFIED, MODIFIED);
  await writeFile(join(dir, "partial.bin.part"), data);
  const some = new Bitfield(4);
  some.set(0);
  complete = { groupId: "team", sha1, size: data.length, pieceSize: PIECE, path: join(dir, "complete.bin"), verified: Bitfield.full(4) };
  partial = { ...complete, groupId: "club", path: join(dir, "partial.bin.part"), verified: some };
  server = createPeerServer({
    files: { find: (groupId, sha) => (sha !== sha1 ? undefined : groupId === "team" ? complete : groupId === "club" ? partial : undefined) },
    checkGrant: async () => "dave",
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((done) => server.close(done));
  await rm(dir, { recursive: true, force: true });
});

async function fetchBytes(group: string, headers: Record<string, string> = {}, method = "GET", suffix = "") {
  const response = await request(`${base}/groups/${group}/files/${complete.sha1}${suffix}`, {
    method: method as "GET",
    headers: { authorization: "Bearer grant", ...headers },
  });
  const body = Buffer.from(await response.body.arrayBuffer());
  const type = String(response.headers["content-type"] ?? "");
  return { status: response.statusCode, headers: response.headers, body, problem: type === "application/problem+json" ? JSON.parse(body.toString()) : undefined };
}

test("a byte answer carries the file's SHA1 as a strong ETag and the file's modification time as Last-Modified", async () => {
  for (const [headers, expected] of [[{}, 200], [{ range: "bytes=0-9" }, 206]] as const) {
    const answer = await fetchBytes("team", headers);
    assert.equal(answer.status, expected);
    assert.equal(answer.headers.etag, `"${complete.sha1}"`);
    assert.equal(answer.headers["last-modified"], MODIFIED.toUTCString());
  }
  const head = await fetchBytes("team", {}, "HEAD");
  assert.equal(head.headers.etag, `"${complete.sha1}"`);
});

test("If-Range with the current ETag or Last-Modified gets the range", async () => {
  for (const ifRange of [`"${complete.sha1}"`, MODIFIED.toUTCString()]) {
    const answer = await fetchBytes("team", { range: "bytes=10-19", "if-range": ifRange });
    assert.equal(answer.status, 206, ifRange);
    assert.ok(answer.body.equals(data.subarray(10, 20)));
  }
});

test("If-Range with another entity tag, a weak one or another date gets the whole file with 200", async () => {
  for (const ifRange of [`"${"0".repeat(40)}"`, `W/"${complete.sha1}"`, "Fri, 20 Nov 2026 08:30:01 GMT"]) {
    const answer = await fetchBytes("team", { range: "bytes=10-19", "if-range": ifRange });
    assert.equal(answer.status, 200, ifRange);
    assert.equal(answer.headers["content-range"], undefined);
    assert.ok(answer.body.equals(data), ifRange);
  }
});

test("If-Range that does not hold, sent to a peer holding part of the file, is a 409 FILE_INCOMPLETE problem", async () => {
  const answer = await fetchBytes("club", { range: "bytes=0-9", "if-range": '"other"' });
  assert.equal(answer.status, 409);
  assert.equal(answer.problem.code, "FILE_INCOMPLETE");
  assert.match(answer.problem.detail, /If-Range/);
});

test("the bytes unit is case-insensitive", async () => {
  for (const range of ["Bytes=0-9", "BYTES=0-9"]) {
    const answer = await fetchBytes("team", { range });
    assert.equal(answer.status, 206, range);
    assert.equal(answer.headers["content-range"], `bytes 0-9/${data.length}`);
    assert.ok(answer.body.equals(data.subarray(0, 10)));
  }
});

test("a Range in an unknown unit is ignored: the whole file with 200", async () => {
  const answer = await fetchBytes("team", { range: "items=0-5" });
  assert.equal(answer.status, 200);
  assert.ok(answer.body.equals(data));
});

test("several ranges are ignored: the whole file with 200, never a 416", async () => {
  const answer = await fetchBytes("team", { range: "bytes=0-1,4-5" });
  assert.equal(answer.status, 200);
  assert.ok(answer.body.equals(data));
});

test("a plain GET of a complete file is the whole file with 200 and Accept-Ranges", async () => {
  const answer = await fetchBytes("team");
  assert.equal(answer.status, 200);
  assert.equal(answer.headers["accept-ranges"], "bytes");
  assert.ok(answer.body.equals(data));
});

test("a plain GET from a peer holding part of the file is a 409 FILE_INCOMPLETE problem that says how many pieces it holds", async () => {
  const answer = await fetchBytes("club");
  assert.equal(answer.status, 409);
  assert.equal(answer.headers["content-type"], "application/problem+json");
  assert.equal(answer.problem.code, "FILE_INCOMPLETE");
  assert.match(answer.problem.detail, /holds 1 of 4 pieces/);
  const inside = await fetchBytes("club", { range: `bytes=0-${PIECE - 1}` });
  assert.equal(inside.status, 206, "a range inside the pieces held is still served");
});

test("methods a resource does not answer are a 405 with Allow, before any grant check", async () => {
  for (const method of ["OPTIONS", "POST", "PUT", "DELETE", "PATCH", "TRACE"]) {
    const response = await request(`${base}/groups/team/files/${complete.sha1}`, { method: method as "GET" });
    assert.equal(response.statusCode, 405, method);
    assert.equal(response.headers.allow, "GET, HEAD", method);
    await response.body.dump();
  }
  const events = await fetchBytes("team", {}, "POST", "/events");
  assert.equal(events.status, 405);
  assert.equal(events.headers.allow, "GET");
  assert.equal(events.problem.code, "METHOD_NOT_ALLOWED");
  const bitfield = await fetchBytes("team", {}, "DELETE", "/bitfield");
  assert.equal(bitfield.headers.allow, "GET, HEAD");
});

test("an unknown path is still a 404, whatever the method", async () => {
  const response = await request(`${base}/nothing/here`, { method: "POST" });
  assert.equal(response.statusCode, 404);
  await response.body.dump();
});
