import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import request from "supertest";
import { groupIdOf, startTrackerApp, userIdOf } from "./support/tracker-app.js";
import { assertMatchesSpec } from "./support/openapi.js";

// Every list that grows without bound is paged: ?limit (1–1000, default 200) and ?cursor (the previous page's nextCursor).
let tracker: Awaited<ReturnType<typeof startTrackerApp>>;
const tokens: Record<string, string> = {};
const PIECE = 512 * 1024;
const SEEDED = 450;
const seededName = (i: number) => `f-${String(i).padStart(3, "0")}.bin`;
const file = (fileName: string) => ({ fileName, size: PIECE, sha1: "a".repeat(40), pieceSize: PIECE, pieceHashes: ["b".repeat(40)] });

const as = (user: string) => ({
  get: (path: string) => request(tracker.app).get(path).set("authorization", `Bearer ${tokens[user]}`),
  post: (path: string, body?: object) => request(tracker.app).post(path).set("authorization", `Bearer ${tokens[user]}`).send(body),
  delete: (path: string) => request(tracker.app).delete(path).set("authorization", `Bearer ${tokens[user]}`),
});
type Page<T> = { items: T[]; nextCursor: string | null };
const withCursor = (path: string, cursor: string | null) => (cursor === null ? path : `${path}${path.includes("?") ? "&" : "?"}cursor=${cursor}`);

/** Walks every page of a list, checking each against the spec; `between` runs after each page. */
async function walk<T>(user: string, path: string, specPath: string, between?: (pages: number) => Promise<void>): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const response = await as(user).get(withCursor(path, cursor)).expect(200);
    await assertMatchesSpec(specPath, "get", 200, response.body);
    const page = response.body as Page<T>;
    items.push(...page.items);
    cursor = page.nextCursor;
    pages += 1;
    if (cursor !== null) await between?.(pages);
  } while (cursor !== null);
  return { items, pages };
}

async function refused(path: string, user = "alice"): Promise<string> {
  const response = await as(user).get(path).expect(400);
  assert.match(response.headers["content-type"]!, /^application\/problem\+json/);
  const specPath = path.split("?")[0]!.replace(/^\/groups\/[^/]+/, "/groups/{groupId}");
  await assertMatchesSpec(specPath, "get", 400, JSON.parse(response.text));
  return JSON.parse(response.text).code as string;
}

before(async () => {
  tracker = await startTrackerApp();
  for (const user of ["alice", "bob", "carol", "dave", "erin"]) {
    await request(tracker.app).post("/users").send({ userId: user, password: "pw" }).expect(201);
    tokens[user] = (await request(tracker.app).post("/sessions")
      .send({ userId: user, password: "pw", peerAddress: "127.0.0.1:7001" }).expect(201)).body.token;
  }
  await as("alice").post("/groups", { groupId: "big" }).expect(201);
  await as("bob").post("/groups/big/join-requests").expect(201);
  await as("alice").post("/groups/big/join-requests/bob/accept").expect(200);
  // Recorded as one write of 450 shares (450 requests through HTTP would only slow the test down).
  const sharedAt = new Date().toISOString();
  const big = await groupIdOf(tracker.db, "big");
  const alice = await userIdOf(tracker.db, "alice");
  await tracker.tracker.outbox.write((_tx, record) => record(...Array.from({ length: SEEDED }, (_, i) => ({
    type: "file.shared" as const,
    payload: { groupId: big, fileName: seededName(i), size: PIECE, sha1: "a".repeat(40), pieceSize: PIECE, pieceHashes: JSON.stringify(["b".repeat(40)]), sharedAt, userId: alice, piecesHeld: 1 },
  }))));
});
after(async () => { await tracker.close(); });

test("without a limit, a page of files holds the first 200 by name and a cursor to the rest", async () => {
  const response = await as("bob").get("/groups/big/files").expect(200);
  await assertMatchesSpec("/groups/{groupId}/files", "get", 200, response.body);
  const page = response.body as Page<{ fileName: string; peersOnline: number }>;
  assert.deepEqual(page.items.map((f) => f.fileName), Array.from({ length: 200 }, (_, i) => seededName(i)));
  assert.equal(page.items[0]!.peersOnline, 1);
  assert.equal(typeof page.nextCursor, "string");
});

test("limit sets the page size, and the page after the last file has a null cursor", async () => {
  const first = (await as("bob").get("/groups/big/files?limit=7").expect(200)).body as Page<{ fileName: string }>;
  assert.deepEqual(first.items.map((f) => f.fileName), Array.from({ length: 7 }, (_, i) => seededName(i)));
  const whole = (await as("bob").get(`/groups/big/files?limit=${SEEDED}`).expect(200)).body as Page<{ fileName: string }>;
  assert.equal(whole.items.length, SEEDED);
  assert.equal(whole.nextCursor, null);
});

test("walking every page returns every file once, in name order", async () => {
  const { items, pages } = await walk<{ fileName: string }>("bob", "/groups/big/files?limit=100", "/groups/{groupId}/files");
  assert.equal(pages, 5);
  assert.deepEqual(items.map((f) => f.fileName), Array.from({ length: SEEDED }, (_, i) => seededName(i)));
});

test("shares and unshares between pages: files that stay show once, a new name ahead of the walk shows, one behind it does not", async () => {
  const { items } = await walk<{ fileName: string }>("bob", "/groups/big/files?limit=100", "/groups/{groupId}/files", async (pages) => {
    if (pages !== 1) return;
    // The walk has seen f-000 … f-099.
    await as("bob").post("/groups/big/files", file("f-050b.bin")).expect(201); // behind the walk
    await as("bob").post("/groups/big/files", file("f-300b.bin")).expect(201); // ahead of it
    await as("alice").delete("/groups/big/files/f-010.bin/holders/me").expect(204); // already seen
    await as("alice").delete("/groups/big/files/f-099.bin/holders/me").expect(204); // the file the cursor names
    await as("alice").delete("/groups/big/files/f-200.bin/holders/me").expect(204); // not seen yet
  });
  const names = items.map((f) => f.fileName);
  assert.equal(new Set(names).size, names.length, "no file twice");
  const stayed = Array.from({ length: SEEDED }, (_, i) => seededName(i)).filter((n) => !["f-010.bin", "f-099.bin", "f-200.bin"].includes(n));
  assert.deepEqual(stayed.filter((n) => !names.includes(n)), [], "every file that stayed shared is listed");
  assert.ok(names.includes("f-010.bin") && names.includes("f-099.bin"), "files removed after their page was read were listed on it");
  assert.ok(names.includes("f-300b.bin"));
  assert.ok(!names.includes("f-050b.bin"));
  assert.ok(!names.includes("f-200.bin"));
  assert.deepEqual(names, [...names].sort(), "name order");
});

test("each page has its own ETag, answers 304 while unchanged, and changes with a share", async () => {
  const first = await as("bob").get("/groups/big/files?limit=10").expect(200);
  const second = await as("bob").get(`/groups/big/files?limit=10&cursor=${first.body.nextCursor}`).expect(200);
  assert.notEqual(first.headers.etag, second.headers.etag);
  await as("bob").get(`/groups/big/files?limit=10&cursor=${first.body.nextCursor}`).set("if-none-match", second.headers.etag!).expect(304);
  await as("bob").post("/groups/big/files", file("f-015b.bin")).expect(201);
  const changed = await as("bob").get(`/groups/big/files?limit=10&cursor=${first.body.nextCursor}`).expect(200);
  assert.notEqual(changed.headers.etag, second.headers.etag);
  assert.ok(changed.body.items.some((f: { fileName: string }) => f.fileName === "f-015b.bin"));
});

test("a limit outside 1–1000 or not a whole number is a 400 problem", async () => {
  for (const limit of ["0", "1001", "-5", "1.5", "ten"]) {
    assert.equal(await refused(`/groups/big/files?limit=${limit}`), "VALIDATION_FAILED", limit);
  }
  assert.equal(await refused("/groups?limit=0"), "VALIDATION_FAILED");
});

test("a cursor the tracker did not give out is a 400 problem", async () => {
  const notJson = Buffer.from("not json").toString("base64url");
  const otherShape = Buffer.from(JSON.stringify({ after: "f-100.bin" })).toString("base64url");
  for (const cursor of [notJson, otherShape, "x"]) assert.equal(await refused(`/groups/big/files?cursor=${cursor}`), "INVALID_CURSOR", cursor);
  assert.equal(await refused("/groups/big/files?cursor=a%20b"), "VALIDATION_FAILED");
});

test("a cursor from one list is refused by another, and by the same list of another group", async () => {
  await as("bob").post("/groups", { groupId: "small" }).expect(201);
  await as("bob").post("/groups/small/files", file("f-100.bin")).expect(201);
  const fromBig = ((await as("bob").get("/groups/big/files?limit=1").expect(200)).body as Page<unknown>).nextCursor!;
  assert.equal(await refused(`/groups/small/files?cursor=${fromBig}`, "bob"), "INVALID_CURSOR");
  assert.equal(await refused(`/groups/big/members?cursor=${fromBig}`, "bob"), "INVALID_CURSOR");
});

test("groups, members and join requests are paged the same way, each item once and in its order", async () => {
  for (const groupId of ["p-3", "p-1", "p-2"]) await as("carol").post("/groups", { groupId }).expect(201);
  const groups = await walk<{ groupId: string }>("dave", "/groups?limit=2", "/groups");
  assert.deepEqual(groups.items.map((g) => g.groupId), ["big", "p-1", "p-2", "p-3", "small"]);
  assert.equal(groups.pages, 3);

  for (const user of ["dave", "erin", "alice", "bob"]) await as(user).post("/groups/p-1/join-requests").expect(201);
  const requests = await walk<{ userId: string }>("carol", "/groups/p-1/join-requests?limit=3", "/groups/{groupId}/join-requests");
  assert.deepEqual(requests.items.map((r) => r.userId), ["dave", "erin", "alice", "bob"]);

  for (const user of ["dave", "erin", "alice", "bob"]) await as("carol").post(`/groups/p-1/join-requests/${user}/accept`).expect(200);
  const members = await walk<{ userId: string; isOwner: boolean }>("erin", "/groups/p-1/members?limit=2", "/groups/{groupId}/members");
  assert.deepEqual(members.items.map((m) => [m.userId, m.isOwner]),
    [["carol", true], ["dave", false], ["erin", false], ["alice", false], ["bob", false]]);
  assert.equal(members.pages, 3);
});

test("a page of members is refused to a non-member even with a valid cursor", async () => {
  const cursor = ((await as("erin").get("/groups/p-1/members?limit=1").expect(200)).body as Page<unknown>).nextCursor;
  const response = await as("erin").get(`/groups/big/members?cursor=${cursor}`);
  assert.equal(response.status, 400, "a cursor of another group");
  const own = ((await as("alice").get("/groups/big/members?limit=1").expect(200)).body as Page<unknown>).nextCursor;
  assert.equal((await as("erin").get(`/groups/big/members?cursor=${own}`)).status, 403);
});
