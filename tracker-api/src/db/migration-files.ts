import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { findPackageRoot } from "../package-root.js";

/** A committed migration: prisma/<provider dir>/migrations/<name>/migration.sql. */
export interface MigrationFile {
  name: string;
  sql: string;
  /** SHA-256 of the SQL, as `prisma migrate deploy` records it in `_prisma_migrations`. */
  checksum: string;
}

/** The migrations in `dir`, oldest first (their names start with a timestamp). */
export function migrationFiles(dir: string): MigrationFile[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

/** prisma/migrations of this package (SQLite, the one model's own). */
export function findMigrationsDir(): string {
  return join(findPackageRoot(), "prisma", "migrations");
}

/** prisma/postgresql/migrations: derived from the SQLite ones by `npm run db:postgres-schema`. */
export function findPostgresMigrationsDir(): string {
  return join(findPackageRoot(), "prisma", "postgresql", "migrations");
}
