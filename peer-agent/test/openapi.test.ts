import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import SwaggerParser from "@apidevtools/swagger-parser";
import { exportJWK, generateKeyPair } from "jose";
import { request } from "undici";
import { Bitfield } from "../../core/bitfield.js";
import { signGrant } from "../../core/grant.js";
import { createSpecChecker } from "../../tracker-api/test/support/openapi.js";
import { createGrantCheck } from "../src/grant-check.js";
import { createPeerServer } from "../src/http/server.js";

const SPEC = fileURLToPath(new URL("../openapi.yaml", import.meta.url));
const assertMatches = createSpecChecker(SPEC);
const BYTES = "/groups/{groupId}/files/{sha1}";
const BITFIELD = "/groups/{groupId}/files/{sha1}/bitfield";
const EVENTS = "/groups/{groupId}/files/{sha1}/events";

let dir: string;
let server: Server;
let base: string;
let sha1: string;
let grant: string;
let otherFileGrant: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "agent-spec-"));
  const data = randomBytes(3000);
  await writeFile(join(dir, "file.bin"), data);
  sha1 = createHash("sha1").update(data).digest("hex");
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const key = { privateKey, kid: "t1", issuer: "tracker-1" };
  grant = await signGrant({ userId: "u", groupId: "g", sha1, fileName: "file.bin" }, key);
  otherFileGrant = await signGrant({ userId: "u", groupId: "g", sha1: "0".repeat(40), fileName: "other" }, key);
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "t1", alg: "EdDSA" }] };
  const served = { groupId: "g", sha1, size: data.length, pieceSize: 1024, path: join(dir, "file.bin"), verified: Bitfield.full(3) };
  server = createPeerServer({
    files: { find: (groupId, s) => (groupId === "g" && s === sha1 ? served : undefined) },
    checkGrant: createGrantCheck(async () => jwks),
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

async function call(path: string, token: string | undefined, headers: Record<string, string> = {}) {
  const response = await request(`${base}${path}`, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
  const text = await response.body.text();
  const type = String(response.headers["content-type"] ?? "");
  return { status: response.statusCode, type, body: type.includes("json") ? JSON.parse(text) : text };
}

test("the peer agent's spec is a valid OpenAPI document", async () => {
  await SwaggerParser.validate(SPEC);
});

test("the bitfield answer matches the spec", async () => {
  const { status, body } = await call(`/groups/g/files/${sha1}/bitfield`, grant);
  assert.equal(status, 200);
  await assertMatches(BITFIELD, "get", 200, body);
});

test("refusals are problem documents as the spec declares", async () => {
  const cases: [string, string | undefined, Record<string, string>, number, string][] = [
    [`/groups/g/files/${sha1}/bitfield`, undefined, {}, 401, BITFIELD],
    [`/groups/g/files/${sha1}/bitfield`, otherFileGrant, {}, 403, BITFIELD],
    [`/groups/g/files/${sha1}`, "forged.grant.token", {}, 401, BYTES],
    [`/groups/g/files/${sha1}`, grant, { range: "bytes=5000-6000" }, 416, BYTES],
  ];
  for (const [path, token, headers, expected, template] of cases) {
    const { status, type, body } = await call(path, token, headers);
    assert.equal(status, expected, path);
    assert.equal(type, "application/problem+json");
    await assertMatches(template, "get", status, body, "application/problem+json");
  }
});

test("the events stream is what the spec declares: text/event-stream opening with a bitfield event, refusals as problems", async () => {
  const controller = new AbortController();
  const response = await request(`${base}/groups/g/files/${sha1}/events`, { headers: { authorization: `Bearer ${grant}` }, signal: controller.signal });
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers["content-type"]), /^text\/event-stream/);
  const spec = (await SwaggerParser.dereference(SPEC)) as { paths: Record<string, { get: { responses: Record<string, { content?: Record<string, unknown> }> } }> };
  assert.ok(spec.paths[EVENTS]!.get.responses["200"]!.content!["text/event-stream"]);
  let text = "";
  for await (const chunk of response.body) {
    text += String(chunk);
    if (text.includes("\n\n")) break;
  }
  controller.abort();
  const [eventLine, dataLine] = text.split("\n");
  assert.equal(eventLine, "event: bitfield");
  assert.deepEqual(Object.keys(JSON.parse(dataLine!.replace(/^data: /, ""))).sort(), ["bitfield", "pieceCount", "piecesHeld"]);
  const refused = await call(`/groups/g/files/${sha1}/events`, undefined);
  assert.equal(refused.status, 401);
  await assertMatches(EVENTS, "get", 401, refused.body, "application/problem+json");
});

test("every byte answer and refusal is a status and content type the spec declares for it, with the headers it documents", async () => {
  type Response = { content?: Record<string, unknown>; headers?: Record<string, unknown> };
  const spec = (await SwaggerParser.dereference(SPEC)) as unknown as { paths: Record<string, Record<string, { responses: Record<string, Response> }>> };
  const declared = (template: string, method: string, status: number) => spec.paths[template]?.[method]?.responses[String(status)];
  const cases: [string, string, Record<string, string>, string | undefined, number, string][] = [
    ["GET", `/groups/g/files/${sha1}`, {}, grant, 200, BYTES],
    ["GET", `/groups/g/files/${sha1}`, { range: "Bytes=0-9" }, grant, 206, BYTES],
    ["GET", `/groups/g/files/${sha1}`, { range: "bytes=0-9", "if-range": '"other"' }, grant, 200, BYTES],
    ["GET", `/groups/g/files/${sha1}`, { range: "items=0-1" }, grant, 200, BYTES],
    ["GET", `/groups/%ZZ/files/${sha1}`, {}, grant, 400, BYTES],
    ["POST", `/groups/g/files/${sha1}`, {}, grant, 405, BYTES],
    ["DELETE", `/groups/g/files/${sha1}/bitfield`, {}, grant, 405, BITFIELD],
    ["POST", `/groups/g/files/${sha1}/events`, {}, grant, 405, EVENTS],
  ];
  for (const [method, path, headers, token, expected, template] of cases) {
    const response = await request(`${base}${path}`, { method: method as "GET", headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
    const text = await response.body.text();
    assert.equal(response.statusCode, expected, `${method} ${path}`);
    // A 405 is documented on the path's operations: the method sent has none of its own.
    const documented = declared(template, expected === 405 ? "get" : method.toLowerCase(), expected);
    assert.ok(documented, `${method} ${template} ${expected} is documented`);
    const type = String(response.headers["content-type"]);
    assert.ok(Object.keys(documented.content ?? {}).includes(type), `${type} is documented for ${method} ${template} ${expected}`);
    for (const header of Object.keys(documented.headers ?? {})) {
      assert.ok(response.headers[header.toLowerCase()] !== undefined, `${method} ${path} ${expected} sends ${header}`);
    }
    if (type.includes("json")) await assertMatches(template, expected === 405 ? "get" : method, expected, JSON.parse(text), type);
  }
});

test("a complete holder's 200 and 206 carry the ETag the spec documents: the file's SHA1", async () => {
  const response = await request(`${base}/groups/g/files/${sha1}`, { headers: { authorization: `Bearer ${grant}`, range: "bytes=0-0" } });
  await response.body.dump();
  assert.equal(response.headers.etag, `"${sha1}"`);
});
