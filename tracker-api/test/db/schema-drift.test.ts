import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { applyMigrations } from "../../src/db/migrations.js";
import { findPackageRoot } from "../../src/package-root.js";

// The committed migrations are what every tracker's database becomes; the
// schema is what the Prisma client is generated from. A schema change without
// its migration would pass every test on a fresh database built from the
// schema and break on a real one, so both are built here and compared.

type Described = Record<string, { columns: unknown[]; indexes: unknown[]; foreignKeys: unknown[] }>;

/** Tables, columns, indexes and foreign keys of a SQLite database, in a canonical order. */
function describe(db: Database.Database): Described {
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_prisma_migrations' ORDER BY name`)
    .all() as { name: string }[];
  const described: Described = {};
  for (const { name } of tables) {
    const indexes = (db.pragma(`index_list("${name}")`) as { name: string; unique: number; origin: string }[])
      .map((index) => ({
        unique: index.unique,
        origin: index.origin,
        columns: (db.pragma(`index_info("${index.name}")`) as { name: string }[]).map((c) => c.name),
      }))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    described[name] = {
      columns: (db.pragma(`table_info("${name}")`) as { name: string; type: string; notnull: number; dflt_value: unknown; pk: number }[])
        .map(({ name: column, type, notnull, dflt_value, pk }) => ({ column, type, notnull, dflt_value, pk }))
        .sort((a, b) => a.column.localeCompare(b.column)),
      indexes,
      foreignKeys: (db.pragma(`foreign_key_list("${name}")`) as { table: string; from: string; to: string; on_update: string; on_delete: string }[])
        .map(({ table, from, to, on_update, on_delete }) => ({ table, from, to, on_update, on_delete }))
        .sort((a, b) => a.from.localeCompare(b.from)),
    };
  }
  return described;
}

test("the committed migrations build the same tables, indexes and keys as prisma/schema.prisma", async () => {
  const root = findPackageRoot();
  const dir = await mkdtemp(join(tmpdir(), "schema-drift-"));
  try {
    const migrated = new Database(join(dir, "migrated.db"));
    const fromSchema = new Database(join(dir, "schema.db"));
    try {
      applyMigrations(migrated);
      const { stdout } = await promisify(execFile)(
        join(root, "node_modules", ".bin", "prisma"),
        ["migrate", "diff", "--from-empty", "--to-schema-datamodel", join(root, "prisma", "schema.prisma"), "--script"],
        { cwd: root, env: { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: "1" } },
      );
      fromSchema.exec(stdout);
      assert.deepEqual(describe(migrated), describe(fromSchema));
    } finally {
      migrated.close();
      fromSchema.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
