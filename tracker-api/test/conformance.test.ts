/**
 * The tracker's answers are what openapi.yaml says. Every tracker the contract
 * tests start is checked answer by answer (support/conformance.ts); this file
 * shows the checker catches what it must, and drives every operation of the
 * document against a tracker listening on a real port, success and refusals.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import express from "express";
import { request } from "undici";
import { parse } from "yaml";
import { conformanceChecked } from "./support/conformance.js";
import { OPENAPI_PATH } from "./support/openapi.js";
import { startTrackerApp } from "./support/tracker-app.js";

async function listen(app: express.Express) {
  const server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

test("the checker reports an undocumented status, a wrong content type, a body off its schema and a 405 without Allow", async () => {
  const liar = express();
  liar.post("/users", (_req, res) => void res.status(202).json({ userId: "alice", createdAt: "2026-11-25T10:00:00.000Z" }));
  liar.get("/health", (_req, res) => void res.status(200).type("text/plain").send("ok"));
  liar.get("/.well-known/jwks.json", (_req, res) => void res.json({ keys: "none" }));
  liar.put("/groups", (_req, res) => void res.status(405).type("application/problem+json").send("{}"));
  const { app, violations } = await conformanceChecked(liar);
  const { server, base } = await listen(app);
  try {
    for (const [method, path] of [["POST", "/users"], ["GET", "/health"], ["GET", "/.well-known/jwks.json"], ["PUT", "/groups"]] as const) {
      await (await request(`${base}${path}`, { method })).body.dump();
    }
  } finally {
    server.close();
  }
  assert.equal(violations.length, 4, violations.join("\n"));
  assert.match(violations[0]!, /status 202 is not documented/);
  assert.match(violations[1]!, /content type is not one documented/);
  assert.match(violations[2]!, /body does not match openapi.yaml/);
  assert.match(violations[3]!, /Allow is/);
});

const tracker = await startTrackerApp();
after(() => tracker.close());

test("every operation of openapi.yaml, driven on a listening tracker, answers as the document says, refusals included", async () => {
  const { server, base } = await listen(tracker.app);
  const reached = new Set<string>();
  const call = async (method: string, template: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const response = await request(`${base}${path}`, {
      method: method as "GET",
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.body.text();
    reached.add(`${method.toLowerCase()} ${template}`);
    return { status: response.statusCode, json: text && String(response.headers["content-type"]).includes("json") ? JSON.parse(text) : undefined };
  };
  const login = async (userId: string) => {
    await call("POST", "/users", "/users", { body: { userId, password: "pw" } });
    return (await call("POST", "/sessions", "/sessions", { body: { userId, password: "pw", peerAddress: "127.0.0.1:7001" } })).json.token as string;
  };
  try {
    const alice = await login("alice");
    const bob = await login("bob");
    const carol = await login("carol");
    const folder = {
      fileName: "course", size: 1024, sha1: "d".repeat(40), pieceSize: 524288, pieceHashes: ["b".repeat(40)],
      manifest: [{ path: "week-1/notes.txt", size: 1000 }, { path: "readme.txt", size: 24 }],
    };
    const file = { fileName: "a.bin", size: 1024, sha1: "a".repeat(40), pieceSize: 524288, pieceHashes: ["b".repeat(40)] };
    const steps: [string, string, string, { token?: string; body?: unknown; headers?: Record<string, string> }, number][] = [
      ["GET", "/health", "/health", {}, 200],
      ["GET", "/.well-known/jwks.json", "/.well-known/jwks.json", {}, 200],
      ["POST", "/users", "/users", { body: { userId: "alice", password: "pw" } }, 409],
      ["POST", "/users", "/users", { body: { userId: "a b", password: "pw" } }, 400],
      ["POST", "/sessions", "/sessions", { body: { userId: "alice", password: "wrong", peerAddress: "127.0.0.1:7001" } }, 401],
      ["POST", "/groups", "/groups", { token: alice, body: { groupId: "movies" } }, 201],
      ["POST", "/groups", "/groups", { token: alice, body: { groupId: "movies" }, headers: { "idempotency-key": "k1" } }, 409],
      ["POST", "/groups", "/groups", { token: alice, body: { groupId: "music" }, headers: { "idempotency-key": "k1" } }, 422],
      ["POST", "/groups", "/groups", { token: alice, body: { groupId: "x" }, headers: { "idempotency-key": "bad key" } }, 400],
      ["GET", "/groups", "/groups", { token: bob }, 200],
      ["GET", "/groups", "/groups?limit=5000", { token: bob }, 400],
      ["GET", "/groups", "/groups", {}, 401],
      ["POST", "/groups/{groupId}/join-requests", "/groups/movies/join-requests", { token: bob }, 201],
      ["POST", "/groups/{groupId}/join-requests", "/groups/nothing/join-requests", { token: bob }, 404],
      ["GET", "/groups/{groupId}/join-requests", "/groups/movies/join-requests", { token: alice }, 200],
      ["GET", "/groups/{groupId}/join-requests", "/groups/movies/join-requests", { token: bob }, 403],
      ["POST", "/groups/{groupId}/join-requests/{userId}/accept", "/groups/movies/join-requests/bob/accept", { token: alice }, 200],
      ["POST", "/groups/{groupId}/join-requests/{userId}/reject", "/groups/movies/join-requests/bob/reject", { token: alice }, 404],
      ["GET", "/groups/{groupId}/members", "/groups/movies/members", { token: bob }, 200],
      ["POST", "/groups/{groupId}/files", "/groups/movies/files", { token: alice, body: file }, 201],
      ["POST", "/groups/{groupId}/files", "/groups/movies/files", { token: bob, body: { ...file, sha1: "c".repeat(40) } }, 409],
      ["POST", "/groups/{groupId}/files", "/groups/movies/files", { token: bob, body: { ...file, fileName: "invoice\u202efdp.exe" } }, 400],
      ["GET", "/groups/{groupId}/files", "/groups/movies/files", { token: bob }, 200],
      ["POST", "/groups/{groupId}/files", "/groups/movies/files", { token: alice, body: folder }, 201],
      ["POST", "/groups/{groupId}/files", "/groups/movies/files", { token: alice, body: { ...folder, fileName: "evil", manifest: [{ path: "../x", size: 1024 }] } }, 400],
      ["GET", "/groups/{groupId}/files/{fileName}/manifest", "/groups/movies/files/course/manifest", { token: bob }, 200],
      ["GET", "/groups/{groupId}/files/{fileName}/manifest", "/groups/movies/files/course/manifest", { token: carol }, 403],
      ["GET", "/groups/{groupId}/files/{fileName}/manifest", "/groups/movies/files/a.bin/manifest", { token: bob }, 404],
      ["GET", "/groups/{groupId}/files/{fileName}/peers", "/groups/movies/files/a.bin/peers", { token: bob }, 200],
      ["GET", "/groups/{groupId}/files/{fileName}/peers", "/groups/movies/files/none.bin/peers", { token: bob }, 404],
      ["POST", "/peers/announce", "/peers/announce", { token: bob, body: { holdings: [] } }, 200],
      ["POST", "/grants/status", "/grants/status", { token: alice, body: { grants: [{ userId: "bob", groupId: "movies", sessionId: "x" }] } }, 200],
      ["POST", "/grants/status", "/grants/status", { token: alice, body: { grants: [{ userId: "bob" }] } }, 400],
      ["POST", "/grants/status", "/grants/status", { body: { grants: [] } }, 401],
      ["DELETE", "/groups/{groupId}/files/{fileName}/holders/me", "/groups/movies/files/a.bin/holders/me", { token: bob }, 404],
      ["DELETE", "/groups/{groupId}/files/{fileName}/holders/me", "/groups/movies/files/a.bin/holders/me", { token: alice }, 204],
      ["DELETE", "/groups/{groupId}/members/{userId}", "/groups/movies/members/alice", { token: bob }, 403],
      ["DELETE", "/groups/{groupId}/members/{userId}", "/groups/movies/members/bob", { token: bob }, 204],
      ["PUT", "/users/me/password", "/users/me/password", { token: bob, body: { currentPassword: "wrong", newPassword: "pw2" } }, 403],
      ["PUT", "/users/me/password", "/users/me/password", { token: bob, body: { currentPassword: "pw" } }, 400],
      ["PUT", "/users/me/password", "/users/me/password", { body: { currentPassword: "pw", newPassword: "pw2" } }, 401],
      ["PUT", "/users/me/password", "/users/me/password", { token: bob, body: { currentPassword: "pw", newPassword: "pw2" } }, 204],
      ["GET", "/sessions/current", "/sessions/current", { token: bob }, 200],
      ["DELETE", "/sessions/current", "/sessions/current", { token: bob }, 204],
      ["GET", "/sessions/current", "/sessions/current", { token: bob }, 401],
      ["DELETE", "/sessions/current", "/sessions/current", { token: bob }, 401],
      ["PUT", "/groups", "/groups", { token: alice }, 405],
      ["GET", "/groups/{groupId}/files", "/groups/%ZZ/files", { token: alice }, 400],
    ];
    for (const [method, template, path, options, expected] of steps) {
      const { status, json } = await call(method, template, path, options);
      assert.equal(status, expected, `${method} ${path}: ${JSON.stringify(json)}`);
    }
    const document = parse(await readFile(OPENAPI_PATH, "utf8")) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`));
    assert.deepEqual(operations.filter((operation) => !reached.has(operation)), [], "every operation was driven");
  } finally {
    server.close();
  }
});
