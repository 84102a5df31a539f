import { randomUUID } from "node:crypto";
import type pg from "pg";
import { findPostgresMigrationsDir, migrationFiles } from "./migration-files.js";

/**
 * Applies the committed PostgreSQL migrations (prisma/postgresql/migrations,
 * derived from the SQLite ones) that the database has not seen yet, each in
 * its own transaction, recorded in `_prisma_migrations` as `prisma migrate
 * deploy` records them, so either tool can take over.
 *
 * Under a session advisory lock: the API processes of one tracker start
 * together (--workers, or several started by hand), and the first one
 * migrates while the others wait, then find nothing left to do.
 */
export async function applyPostgresMigrations(client: pg.ClientBase, migrationsDir = findPostgresMigrationsDir()): Promise<string[]> {
  await client.query(`SELECT pg_advisory_lock(hashtext('p2p-tracker.migrations'))`);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0
    )`);
    const { rows } = await client.query<{ migration_name: string }>(
      `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`);
    const done = new Set(rows.map((row) => row.migration_name));
    const pending = migrationFiles(migrationsDir).filter((m) => !done.has(m.name));
    for (const { name, sql, checksum } of pending) {
      await client.query("BEGIN");
      try {
        const startedAt = new Date();
        await client.query(sql);
        await client.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES ($1, $2, now(), $3, $4, 1)`,
          [randomUUID(), checksum, name, startedAt],
        );
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw error;
      }
    }
    return pending.map((m) => m.name);
  } finally {
    await client.query(`SELECT pg_advisory_unlock(hashtext('p2p-tracker.migrations'))`);
  }
}
