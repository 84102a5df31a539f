import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { TrackerClient } from "../tracker-client.js";
import { AppError, ConflictError, UnavailableError } from "../errors.js";
import type { TrackerAddress } from "../tracker-info.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function startServer(handler: Handler): Promise<{ server: Server; tracker: (n: number) => TrackerAddress }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, tracker: (number) => ({ number, host: "127.0.0.1", port, url: `http://127.0.0.1:${port}` }) };
}

async function closedPort(): Promise<number> {
  const { server, tracker } = await startServer(() => {});
  const { port } = tracker(0);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function json(res: ServerResponse, status: number, body: unknown, type = "application/json"): void {
  res.writeHead(status, { "content-type": type });
  res.end(JSON.stringify(body));
}

test("a request moves to the next tracker when the first refuses connections", async () => {
  const port = await closedPort();
  const good = await startServer((_req, res) => json(res, 200, { items: [{ groupId: "g" }], nextCursor: null }));
  const notices: string[] = [];
  const client = new TrackerClient(
    [{ number: 1, host: "127.0.0.1", port, url: `http://127.0.0.1:${port}` }, good.tracker(2)],
    { onFailover: ({ from, to }) => notices.push(`${from.number}->${to.number}`) },
  );
  try {
    const groups = await client.listGroups();
    assert.deepEqual(groups, [{ groupId: "g" }]);
    assert.equal(client.currentTracker?.number, 2);
    assert.deepEqual(notices, ["1->2"]);
  } finally {
    await client.close();
    good.server.close();
  }
});

test("a retried write carries the same idempotency key to the next tracker", async () => {
  const keys: string[] = [];
  const failing = await startServer((req, res) => {
    keys.push(String(req.headers["idempotency-key"]));
    json(res, 503, { code: "UNAVAILABLE" }, "application/problem+json");
  });
  const good = await startServer((req, res) => {
    keys.push(String(req.headers["idempotency-key"]));
    json(res, 201, { groupId: "g", owner: "alice", memberCount: 1, createdAt: "x" });
  });
  const client = new TrackerClient([failing.tracker(1), good.tracker(2)]);
  try {
    await client.createGroup("g");
    assert.equal(keys.length, 2);
    assert.equal(keys[0], keys[1]);
    assert.match(keys[0]!, /^[0-9a-f-]{36}$/);
  } finally {
    await client.close();
    failing.server.close();
    good.server.close();
  }
});

test("a problem answer becomes a typed error and is not retried elsewhere", async () => {
  let secondCalled = false;
  const first = await startServer((_req, res) =>
    json(res, 409, { code: "GROUP_EXISTS", detail: "group g exists" }, "application/problem+json"));
  const second = await startServer((_req, res) => {
    secondCalled = true;
    json(res, 201, {});
  });
  const client = new TrackerClient([first.tracker(1), second.tracker(2)]);
  try {
    await assert.rejects(client.createGroup("g"), (error: unknown) =>
      error instanceof ConflictError && error.code === "GROUP_EXISTS" && error.message === "group g exists");
    assert.equal(secondCalled, false);
  } finally {
    await client.close();
    first.server.close();
    second.server.close();
  }
});

test("when no tracker answers the error names every tracker tried", async () => {
  const a = await closedPort();
  const b = await closedPort();
  const client = new TrackerClient([
    { number: 1, host: "127.0.0.1", port: a, url: `http://127.0.0.1:${a}` },
    { number: 2, host: "127.0.0.1", port: b, url: `http://127.0.0.1:${b}` },
  ]);
  try {
    await assert.rejects(client.listGroups(), (error: unknown) =>
      error instanceof UnavailableError && /tracker 1/.test(error.message) && /tracker 2/.test(error.message));
  } finally {
    await client.close();
  }
});

test("the preferred tracker is used again once it is back", async () => {
  let firstUp = false;
  const first = await startServer((_req, res) =>
    firstUp ? json(res, 200, { items: ["first"], nextCursor: null }) : json(res, 503, {}, "application/problem+json"));
  const second = await startServer((_req, res) => json(res, 200, { items: ["second"], nextCursor: null }));
  const client = new TrackerClient([first.tracker(1), second.tracker(2)], { retryDownTrackerAfterMs: 50 });
  try {
    assert.deepEqual(await client.listGroups(), ["second"]);
    firstUp = true;
    assert.deepEqual(await client.listGroups(), ["second"]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.deepEqual(await client.listGroups(), ["first"]);
  } finally {
    await client.close();
    first.server.close();
    second.server.close();
  }
});

test("listing files follows nextCursor through every page, asking for the largest pages", async () => {
  const asked: string[] = [];
  const pages: Record<string, { items: string[]; nextCursor: string | null }> = {
    "": { items: ["a.bin", "b.bin"], nextCursor: "c1" },
    c1: { items: ["c.bin", "d.bin"], nextCursor: "c2" },
    c2: { items: ["e.bin"], nextCursor: null },
  };
  const { server, tracker } = await startServer((req, res) => {
    const url = new URL(req.url!, "http://tracker");
    asked.push(`${url.pathname}?${url.searchParams}`);
    json(res, 200, pages[url.searchParams.get("cursor") ?? ""]);
  });
  const client = new TrackerClient([tracker(1)]);
  try {
    assert.deepEqual(await client.listFiles("movies"), ["a.bin", "b.bin", "c.bin", "d.bin", "e.bin"]);
    assert.deepEqual(asked, [
      "/groups/movies/files?limit=1000", "/groups/movies/files?limit=1000&cursor=c1", "/groups/movies/files?limit=1000&cursor=c2",
    ]);
  } finally {
    await client.close();
    server.close();
  }
});

test("a tracker whose pages do not advance ends the walk with an error instead of looping", async () => {
  // Ignores the cursor: always the first page, always a next one.
  const { server, tracker } = await startServer((_req, res) => json(res, 200, { items: ["a.bin"], nextCursor: "c1" }));
  const client = new TrackerClient([tracker(1)]);
  try {
    await assert.rejects(client.listFiles("movies"), (error: unknown) => error instanceof AppError && error.code === "TRACKER_BAD_ANSWER");
  } finally {
    await client.close();
    server.close();
  }
});
