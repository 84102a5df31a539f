import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { checkpointInBackground } from "../../src/db/checkpoints.js";
import { openDatabase } from "../../src/db/open.js";
import { applyMigrations, findMigrationsDir } from "../../src/db/migrations.js";
import { readdirSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { TRACKER } from "../../src/config.js";

test("opening a new database applies every migration and the tables work through Prisma", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tracker-db-"));
  try {
    const prisma = await openDatabase(join(dir, "nested", "tracker.db"));
    await prisma.user.create({ data: { id: "alice", name: "alice", passwordHash: "x", createdAt: new Date() } });
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
    await first.group.create({ data: { id: "team", name: "team", ownerId: "alice", createdAt: new Date() } });
    await first.$disconnect();
    const raw = new Database(path);
    assert.deepEqual(applyMigrations(raw), []);
    const recorded = raw.prepare(`SELECT migration_name, checksum FROM "_prisma_migrations"`).all() as
      { migration_name: string; checksum: string }[];
    raw.close();
    const migrations = readdirSync(findMigrationsDir(), { withFileTypes: true }).filter((entry) => entry.isDirectory());
    assert.equal(recorded.length, migrations.length);
    assert.match(recorded[0]!.checksum, /^[0-9a-f]{64}$/);
    const second = await openDatabase(path);
    assert.equal(await second.group.count(), 1);
    await second.$disconnect();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a write outside a transaction survives a concurrent transaction that rolls back", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tracker-db-"));
  const prisma = await openDatabase(join(dir, "tracker.db"));
  try {
    let outside: Promise<unknown> | undefined;
    const failing = prisma.$transaction(async (tx) => {
      await tx.group.create({ data: { id: "doomed", name: "doomed", ownerId: "alice", createdAt: new Date() } });
      outside = prisma.user.create({ data: { id: "bob", name: "bob", passwordHash: "x", createdAt: new Date() } });
      // Give the outside write every chance to run while the transaction is open.
      await Promise.race([outside, new Promise((resolve) => setTimeout(resolve, 300))]);
      throw new Error("roll back");
    });
    await assert.rejects(failing, /roll back/);
    await outside;
    assert.equal(await prisma.group.count({ where: { id: "doomed" } }), 0);
    assert.equal(await prisma.user.count({ where: { id: "bob" } }), 1);
  } finally {
    await prisma.$disconnect();
    await rm(dir, { recursive: true, force: true });
  }
});

test("a tracker database commits in WAL mode with synchronous NORMAL", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tracker-db-"));
  const prisma = await openDatabase(join(dir, "tracker.db"));
  try {
    const [journal] = await prisma.$queryRawUnsafe<{ journal_mode: string }[]>("PRAGMA journal_mode");
    const [sync] = await prisma.$queryRawUnsafe<{ synchronous: bigint | number }[]>("PRAGMA synchronous");
    assert.equal(journal!.journal_mode, "wal");
    assert.equal(Number(sync!.synchronous), 1, "1 is NORMAL");
  } finally {
    await prisma.$disconnect();
    await rm(dir, { recursive: true, force: true });
  }
});

test("committed rows reach the database file itself in the background, while the WAL is far below the connection's own checkpoint size", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tracker-db-"));
  const path = join(dir, "tracker.db");
  const prisma = await openDatabase(path);
  const checkpointer = checkpointInBackground(path);
  try {
    await prisma.user.create({ data: { id: "copied", name: "copied", passwordHash: "x", createdAt: new Date() } });
    // The database file alone, without its WAL: only what a checkpoint copied into it. A round runs every
    // CHECKPOINT_EVERY_MS; the worker's own start may take a while on a loaded machine, so the test waits for it.
    const copied = async () => {
      await copyFile(path, join(dir, "copy.db"));
      const copy = new Database(join(dir, "copy.db"), { readonly: true });
      try {
        return (copy.prepare(`SELECT "id" FROM "User"`).all() as { id: string }[]).map((row) => row.id);
      } finally {
        copy.close();
      }
    };
    const deadline = Date.now() + TRACKER.CHECKPOINT_EVERY_MS * 50;
    let found = await copied();
    while (found.length === 0 && Date.now() < deadline) {
      await delay(TRACKER.CHECKPOINT_EVERY_MS);
      found = await copied();
    }
    assert.deepEqual(found, ["copied"]);
  } finally {
    await checkpointer.stop();
    await prisma.$disconnect();
    await rm(dir, { recursive: true, force: true });
  }
});
