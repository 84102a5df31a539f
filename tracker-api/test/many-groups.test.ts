import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import request from "supertest";
import { TRACKER } from "../src/config.js";
import { startTrackerApp } from "./support/tracker-app.js";

// More groups than SQLite binds values in one statement (999): every list and login must still work.
const GROUPS = 1100;
let tracker: Awaited<ReturnType<typeof startTrackerApp>>;
let token: string;

before(async () => {
  assert.ok(GROUPS > 2 * TRACKER.IDS_PER_STATEMENT);
  // Past the default quota of groups owned (TRACKER.QUOTAS.groupsOwned, 1000): this is about lists longer than a page.
  tracker = await startTrackerApp({ quotas: { groupsOwned: GROUPS } });
  await request(tracker.app).post("/users").send({ userId: "hoarder", password: "pw" }).expect(201);
  token = (await request(tracker.app).post("/sessions").send({ userId: "hoarder", password: "pw", peerAddress: "127.0.0.1:7001" }).expect(201)).body.token;
  for (let i = 0; i < GROUPS; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, GROUPS - i) }, (_, k) =>
      request(tracker.app).post("/groups").set("authorization", `Bearer ${token}`).send({ groupId: `g${String(i + k).padStart(4, "0")}` }).expect(201)));
  }
});
after(async () => { await tracker.close(); });

test("a user who owns over a thousand groups lists them 1000 to a page, as the CLI asks", async () => {
  const first = await request(tracker.app).get("/groups?limit=1000").set("authorization", `Bearer ${token}`);
  assert.equal(first.status, 200, first.text);
  assert.equal(first.body.items.length, 1000);
  assert.ok(first.body.items.every((group: { memberCount: number; owner: string }) => group.memberCount === 1 && group.owner === "hoarder"));
  const second = await request(tracker.app).get(`/groups?limit=1000&cursor=${first.body.nextCursor}`).set("authorization", `Bearer ${token}`).expect(200);
  assert.equal(second.body.items.length, GROUPS - 1000);
  assert.equal(second.body.nextCursor, null);
});

test("a member of over a thousand groups can still log in", async () => {
  const again = await request(tracker.app).post("/sessions").send({ userId: "hoarder", password: "pw", peerAddress: "127.0.0.1:7002" });
  assert.equal(again.status, 201, again.text);
});
