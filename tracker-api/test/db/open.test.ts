import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { openDatabase } from "../../src/db/open.js";
import { applyMigrations } from "../../src/db/migrations.js";

test("opening a new database applies every migration and the tables work through Prisma", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tracker-db-"));
  try {
    const prisma = await openDatabase(join(dir, "nested", "tracker.db"));
    await prisma.user.create({ data: { id: "alice", passwordHash: "x", createdAt: new Date() } });
    assert.equal((await prisma.user.findUniqueOrThrow({ where: { id: "alice" } })).id, "alice");
    await prisma.$disconnect();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("migrations already applied are not applied again and data survives a reopen", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tracker-db-"));
  const path = join(dir, "tracker.db");
  try {
    const first = await openDatabase(path);
    await first.group.create({ data: { id: "team", ownerId: "alice", createdAt: new Date() } });
    await first.$disconnect();
    const raw = new Database(path);
    assert.deepEqual(applyMigrations(raw), []);
    const recorded = raw.prepare(`SELECT migration_name, checksum FROM "_prisma_migrations"`).all() as
      { migration_name: string; checksum: string }[];
    raw.close();
    assert.equal(recorded.length, 1);
    assert.match(recorded[0]!.checksum, /^[0-9a-f]{64}$/);
    const second = await openDatabase(path);
    assert.equal(await second.group.count(), 1);
    await second.$disconnect();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
