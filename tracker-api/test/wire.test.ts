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
});
after(async () => { await tracker.close(); });

const problem = (response: { headers: Record<string, string>; text: string }) => {
  assert.match(response.headers["content-type"]!, /^application\/problem\+json/);
  return JSON.parse(response.text) as { code: string; status: number };
};

test("a path with bad percent-encoding is a 400 BAD_PERCENT_ENCODING problem, with or without a session", async () => {
  for (const path of ["/groups/%ZZ/files", "/groups/%E0%A4%A/files", "/groups/movies/files/%ZZ/peers", "/nowhere/%ZZ"]) {
    for (const authorization of [`Bearer ${token}`, undefined]) {
      const call = request(tracker.app).get(path);
      const response = await (authorization ? call.set("authorization", authorization) : call);
      assert.equal(response.status, 400, path);
      assert.equal(problem(response).code, "BAD_PERCENT_ENCODING", path);
    }
  }
});

test("a method a path does not answer is a 405 problem with Allow listing the ones it does", async () => {
  const cases: [string, string, string][] = [
    ["trace", "/groups", "GET, HEAD, POST"],
    ["options", "/groups", "GET, HEAD, POST"],
    ["put", "/groups/movies/files", "GET, HEAD, POST"],
    ["delete", "/users", "POST"],
    ["post", "/health", "GET, HEAD"],
    ["get", "/peers/announce", "POST"],
    ["patch", "/groups/movies/join-requests/bob/accept", "POST"],
  ];
  for (const [method, path, allow] of cases) {
    const response = await (request(tracker.app) as unknown as Record<string, (path: string) => request.Test>)[method]!(path).set("authorization", `Bearer ${token}`);
    assert.equal(response.status, 405, `${method} ${path}`);
    assert.equal(response.headers.allow, allow, `${method} ${path}`);
    assert.equal(problem(response).code, "METHOD_NOT_ALLOWED");
  }
});

test("a path the API does not have is still a 404, whatever the method", async () => {
  for (const method of ["get", "post"] as const) {
    const response = await request(tracker.app)[method]("/no/such/path");
    assert.equal(response.status, 404);
    assert.equal(problem(response).code, "ROUTE_NOT_FOUND");
  }
});

test("a JSON body nested thousands deep is a 400 JSON_TOO_DEEP problem before anything walks it, and a normal body still works", async () => {
  for (const depth of [33, 5000, 100_000]) {
    const nested = `${"{\"a\":".repeat(depth)}1${"}".repeat(depth)}`;
    const response = await request(tracker.app).post("/users").set("content-type", "application/json").send(`{"userId":${nested},"password":"p"}`);
    assert.equal(response.status, 400, `depth ${depth}`);
    assert.equal(problem(response).code, "JSON_TOO_DEEP", `depth ${depth}`);
    assert.doesNotMatch(response.text, /RangeError|node_modules|at /);
  }
  // Brackets inside strings are not nesting.
  const name = "[".repeat(100);
  const response = await request(tracker.app).post("/users").send({ userId: "bob", password: name });
  assert.equal(response.status, 201);
});
