import { createHash, randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { findPackageRoot } from "../package-root.js";

/**
 * Applies the committed Prisma migrations (prisma/migrations/<name>/migration.sql)
 * that a SQLite database has not seen yet, each in its own transaction, and
 * records them in `_prisma_migrations` exactly as `prisma migrate deploy` would,
 * so either tool can take over. Done in-process because a tracker must start in
 * milliseconds and must not spawn the Prisma CLI. (On PostgreSQL, run
 * `prisma migrate deploy` instead.)
 */
export function applyMigrations(db: Database.Database, migrationsDir = findMigrationsDir()): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id" TEXT PRIMARY KEY NOT NULL,
    "checksum" TEXT NOT NULL,
    "finished_at" DATETIME,
    "migration_name" TEXT NOT NULL,
    "logs" TEXT,
    "rolled_back_at" DATETIME,
    "started_at" DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0
  )`);
  const done = new Set(
    (db.prepare(`SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`)
      .all() as { migration_name: string }[]).map((row) => row.migration_name),
  );
  const pending = readdirSync(migrationsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !done.has(entry.name))
    .map((entry) => entry.name)
    .sort();
  const record = db.prepare(`INSERT INTO "_prisma_migrations"
    (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES (?, ?, ?, ?, ?, 1)`);
  for (const name of pending) {
    const sql = readFileSync(join(migrationsDir, name, "migration.sql"), "utf8");
    const checksum = createHash("sha256").update(sql).digest("hex");
    db.transaction(() => {
      const startedAt = new Date().toISOString();
      db.exec(sql);
      record.run(randomUUID(), checksum, new Date().toISOString(), name, startedAt);
    })();
  }
  return pending;
}

/** prisma/migrations of this package. */
export function findMigrationsDir(): string {
  return join(findPackageRoot(), "prisma", "migrations");
}
