/**
 * The PostgreSQL migrations against the SQLite ones they are derived from
 * (npm run db:postgres-schema), and against a real server: PostgreSQL only
 * in scripts/run-tests.mjs, which starts the server.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { findMigrationsDir, findPostgresMigrationsDir, migrationFiles } from "../../src/db/migration-files.js";
import { applyPostgresMigrations } from "../../src/db/postgres-migrations.js";
import { findPackageRoot } from "../../src/package-root.js";
import { derivedHeader } from "../../../scripts/postgres-migrations.js";
import { newPostgresDatabase } from "../support/test-database.js";

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Tables, columns (type, nullability, default) and index definitions of a database, as sorted lines. */
const catalog = (url: string) => withClient(url, async (client) => {
  const columns = await client.query(`SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') AS line
    FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`);
  const indexes = await client.query(`SELECT indexdef AS line FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'`);
  return [...columns.rows, ...indexes.rows].map((row: { line: string }) => row.line).sort();
});

test("every SQLite migration has its PostgreSQL counterpart of the same name, derived from its current text (npm run db:postgres-schema after a change)", () => {
  const sqlite = migrationFiles(findMigrationsDir());
  const postgres = migrationFiles(findPostgresMigrationsDir());
  assert.deepEqual(postgres.map((m) => m.name), sqlite.map((m) => m.name));
  for (const [i, migration] of sqlite.entries()) {
    assert.ok(postgres[i]!.sql.startsWith(derivedHeader(migration)), `${migration.name}: derived from another text of the SQLite migration`);
  }
});

test("the PostgreSQL migrations, applied in order to a new database, make exactly the tables and indexes of the derived schema", async () => {
  const migrated = await newPostgresDatabase();
  assert.equal((await withClient(migrated, (client) => applyPostgresMigrations(client))).length, migrationFiles(findPostgresMigrationsDir()).length);
  const root = findPackageRoot();
  const { stdout: fromSchema } = await promisify(execFile)(
    join(root, "node_modules", ".bin", "prisma"),
    ["migrate", "diff", "--from-empty", "--to-schema-datamodel", join(root, "prisma", "postgresql", "schema.prisma"), "--script"],
    { cwd: root, env: { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: "1" } },
  );
  const direct = await newPostgresDatabase();
  await withClient(direct, (client) => client.query(fromSchema));
  const [a, b] = await Promise.all([catalog(migrated), catalog(direct)]);
  assert.ok(a.length > 30, `catalog: ${a.join("\n")}`);
  assert.deepEqual(a, b);
});

test("API processes starting together on a new database apply each migration once", async () => {
  const url = await newPostgresDatabase();
  const applied = await Promise.all([1, 2, 3].map(() => withClient(url, (client) => applyPostgresMigrations(client))));
  assert.equal(applied.flat().length, migrationFiles(findPostgresMigrationsDir()).length);
  const rows = await withClient(url, (client) => client.query(`SELECT migration_name FROM "_prisma_migrations"`));
  assert.equal(rows.rowCount, migrationFiles(findPostgresMigrationsDir()).length);
});
