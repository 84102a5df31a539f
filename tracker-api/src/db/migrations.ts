import { randomUUID } from "node:crypto";
import type Database from "better-sqlite3";
import { findMigrationsDir, migrationFiles } from "./migration-files.js";

export { findMigrationsDir } from "./migration-files.js";

/**
 * Applies the committed Prisma migrations (prisma/migrations/<name>/migration.sql)
 * that a SQLite database has not seen yet, each in its own transaction, and
 * records them in `_prisma_migrations` exactly as `prisma migrate deploy` would,
 * so either tool can take over. Done in-process because a tracker must start in
 * milliseconds and must not spawn the Prisma CLI (PostgreSQL's: postgres-migrations.ts).
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
  const pending = migrationFiles(migrationsDir).filter((m) => !done.has(m.name));
  const record = db.prepare(`INSERT INTO "_prisma_migrations"
    (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES (?, ?, ?, ?, ?, 1)`);
  for (const { name, sql, checksum } of pending) {
    db.transaction(() => {
      const startedAt = new Date().toISOString();
      db.exec(sql);
      record.run(randomUUID(), checksum, new Date().toISOString(), name, startedAt);
    })();
  }
  return pending.map((m) => m.name);
}
