import { test } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import request from "supertest";
import { applyMigrations, findMigrationsDir } from "../../src/db/migrations.js";
import { openDatabase } from "../../src/db/open.js";
import { createApp } from "../../src/http/app.js";
import { createTracker } from "../../src/tracker.js";
import { loadGrantKey } from "../../src/grant-key.js";
import { hashPassword } from "../../src/services/passwords.js";

const BEFORE = ["20261125000000_init", "20261125163540_idempotency_scope", "20261125180000_replication_registers"];

test("upgrading a database made before internal ids keeps every user, group, membership, file and session, under ids derived from the old ones", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tracker-upgrade-"));
  try {
    // A database as the previous version left it.
    const old = join(dir, "old-migrations");
    for (const name of BEFORE) await cp(join(findMigrationsDir(), name), join(old, name), { recursive: true });
    const path = join(dir, "tracker.db");
    const raw = new Database(path);
    applyMigrations(raw, old);
    const now = new Date().toISOString();
    const hash = await hashPassword("pw");
    raw.prepare(`INSERT INTO "User" VALUES ('alice', ?, ?)`).run(hash, now);
    raw.prepare(`INSERT INTO "User" VALUES ('bob', ?, ?)`).run(hash, now);
    raw.prepare(`INSERT INTO "Group" VALUES ('movies', 'alice', ?)`).run(now);
    raw.prepare(`INSERT INTO "Membership" VALUES ('movies', 'alice', ?), ('movies', 'bob', ?)`).run(now, now);
    raw.prepare(`INSERT INTO "SharedFile" VALUES ('movies', 'a.mp4', 3, ?, 524288, ?, ?)`).run("a".repeat(40), JSON.stringify(["b".repeat(40)]), now);
    raw.prepare(`INSERT INTO "Holding" VALUES ('movies', 'a.mp4', 'bob', 1, ?)`).run(now);
    const register = raw.prepare(`INSERT INTO "Register" VALUES (?, ?, ?, ?, ?, ?, 1, ?)`);
    register.run("user", "", "", "", "alice", "h1", JSON.stringify({ passwordHash: hash, createdAt: now }));
    register.run("user", "", "", "", "bob", "h2", JSON.stringify({ passwordHash: hash, createdAt: now }));
    register.run("group", "movies", "", "", "", "h3", JSON.stringify({ ownerId: "alice", createdAt: now, after: null, creations: [{ hlc: "h3", ownerId: "alice", createdAt: now, after: null }], deleted: [] }));
    register.run("member", "movies", "h3", "", "bob", "h4", JSON.stringify({ joinedAt: now }));
    raw.close();

    const db = await openDatabase(path);
    try {
      assert.deepEqual((await db.user.findMany({ orderBy: { id: "asc" }, select: { id: true, name: true } })),
        [{ id: "u=alice", name: "alice" }, { id: "u=bob", name: "bob" }]);
      assert.deepEqual(await db.group.findMany({ select: { id: true, name: true, ownerId: true } }), [{ id: "g=movies", name: "movies", ownerId: "u=alice" }]);
      assert.deepEqual((await db.membership.findMany({ orderBy: { userId: "asc" }, select: { groupId: true, userId: true } })),
        [{ groupId: "g=movies", userId: "u=alice" }, { groupId: "g=movies", userId: "u=bob" }]);
      assert.deepEqual(await db.holding.findMany({ select: { groupId: true, userId: true } }), [{ groupId: "g=movies", userId: "u=bob" }]);
      const group = await db.register.findFirstOrThrow({ where: { kind: "group" } });
      assert.equal(group.groupId, "g=movies");
      assert.equal(JSON.parse(group.value).creations[0].ownerId, "u=alice");
      assert.equal((await db.register.findFirstOrThrow({ where: { kind: "member" } })).userId, "u=bob");
      assert.equal(await db.register.count({ where: { kind: { in: ["userName", "groupName"] } } }), 3);

      // And it works as before: bob logs in with his old password and sees his group and file.
      const app = createApp(createTracker({ db, id: "tracker-test", grantKey: await loadGrantKey("tracker-test") }));
      const login = await request(app).post("/sessions").send({ userId: "bob", password: "pw", peerAddress: "127.0.0.1:7001" }).expect(201);
      const files = await request(app).get("/groups/movies/files").set("authorization", `Bearer ${login.body.token}`).expect(200);
      assert.deepEqual(files.body.items.map((f: { fileName: string; sharedBy: string[] }) => [f.fileName, f.sharedBy]), [["a.mp4", ["bob"]]]);
      const members = await request(app).get("/groups/movies/members").set("authorization", `Bearer ${login.body.token}`).expect(200);
      assert.deepEqual(members.body.items.map((m: { userId: string; isOwner: boolean }) => [m.userId, m.isOwner]), [["alice", true], ["bob", false]]);
    } finally {
      await db.$disconnect();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
