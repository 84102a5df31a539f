/**
 * Derives prisma/postgresql/migrations from prisma/migrations: one PostgreSQL
 * migration per SQLite migration, with the same name. For each SQLite
 * migration, the schema after it is read back from a SQLite database migrated
 * that far (`prisma db pull`), turned into its PostgreSQL form (postgresSchema),
 * and `prisma migrate diff` writes the SQL from the previous state to it. All
 * offline: the SQLite database is a temporary file, no PostgreSQL is asked.
 *
 * Schema only: a SQLite migration that also rewrites rows (as identity_names
 * did) has no such step on PostgreSQL, where no database predates this
 * derivation. A later migration that rewrites rows needs its PostgreSQL
 * statements added to prisma/schema.prisma's model or done by the tracker.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { applyMigrations } from "../tracker-api/src/db/migrations.js";
import { migrationFiles, type MigrationFile } from "../tracker-api/src/db/migration-files.js";
import { postgresSchema } from "../tracker-api/src/db/postgres-schema.js";

/** The first line of every derived migration; the drift test compares the checksum with the SQLite migration's. */
export const derivedHeader = (sqlite: MigrationFile): string =>
  `-- Derived from prisma/migrations/${sqlite.name}/migration.sql (sha256 ${sqlite.checksum}) by \`npm run db:postgres-schema\`.\n`;

const run = promisify(execFile);

/** Writes prisma/postgresql/migrations/<name>/migration.sql for every SQLite migration; returns the names. */
export async function derivePostgresMigrations(root: string): Promise<string[]> {
  const prisma = join(root, "node_modules", ".bin", "prisma");
  const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: "1" };
  const work = mkdtempSync(join(tmpdir(), "postgres-migrations-"));
  try {
    const sqlite = migrationFiles(join(root, "prisma", "migrations"));
    const model = readFileSync(join(root, "prisma", "schema.prisma"), "utf8");
    const dbPath = join(work, "state.db");
    const schemas: string[] = [];
    for (const [i, migration] of sqlite.entries()) {
      // The state after this migration: a SQLite database migrated that far, read back as a schema.
      const dir = join(work, "migrations");
      cpSync(join(root, "prisma", "migrations", migration.name), join(dir, migration.name), { recursive: true });
      const db = new Database(dbPath);
      applyMigrations(db, dir);
      db.close();
      const { stdout } = await run(prisma, ["db", "pull", "--print", "--schema", join(root, "prisma", "schema.prisma")], { cwd: root, env: { ...env, DATABASE_URL: dbPath } });
      const schema = join(work, `state-${i}.prisma`);
      writeFileSync(schema, postgresSchema(withModelDefaults(stdout.slice(stdout.indexOf("generator client")), model)));
      schemas.push(schema);
    }
    const target = join(root, "prisma", "postgresql", "migrations");
    rmSync(target, { recursive: true, force: true });
    await Promise.all(sqlite.map(async (migration, i) => {
      const from = i === 0 ? ["--from-empty"] : ["--from-schema-datamodel", schemas[i - 1]!];
      const { stdout } = await run(prisma, ["migrate", "diff", ...from, "--to-schema-datamodel", schemas[i]!, "--script"], { cwd: root, env });
      mkdirSync(join(target, migration.name), { recursive: true });
      writeFileSync(join(target, migration.name, "migration.sql"), derivedHeader(migration) + stdout);
    }));
    writeFileSync(join(target, "migration_lock.toml"), '# Written by `npm run db:postgres-schema`.\nprovider = "postgresql"\n');
    return sqlite.map((m) => m.name);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const DEFAULT = /@default\((?:[^()]|\([^()]*\))*\)/;
const FIELD = /^\s+(\w+)\s+(\w+\??)(?:\s|$)/;

/**
 * A schema read back from SQLite, with the default of each field that the
 * model still has under the same name and type taken from the model: SQLite
 * cannot tell some defaults apart (an INTEGER PRIMARY KEY reads back as
 * autoincrement, though the model says `@default(1)`), and PostgreSQL would
 * turn the misread one into a different column.
 */
export function withModelDefaults(readBack: string, model: string): string {
  const defaults = new Map<string, string>();
  let current: string | undefined;
  for (const line of model.split("\n")) {
    current = /^model (\w+) \{/.exec(line)?.[1] ?? (line.startsWith("}") ? undefined : current);
    const field = current && FIELD.exec(line);
    if (field) defaults.set(`${current}.${field[1]}:${field[2]}`, DEFAULT.exec(line)?.[0] ?? "");
  }
  current = undefined;
  return readBack.split("\n").map((line) => {
    current = /^model (\w+) \{/.exec(line)?.[1] ?? (line.startsWith("}") ? undefined : current);
    const field = current && FIELD.exec(line);
    const wanted = field ? defaults.get(`${current}.${field[1]}:${field[2]}`) : undefined;
    return wanted === undefined ? line : `${line.replace(DEFAULT, "").trimEnd()}${wanted ? ` ${wanted}` : ""}`;
  }).join("\n");
}
