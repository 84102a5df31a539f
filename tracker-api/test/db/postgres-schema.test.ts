import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { postgresSchema } from "../../src/db/postgres-schema.js";
import { findPackageRoot } from "../../src/package-root.js";

const root = findPackageRoot();
const schemaOf = (...path: string[]) => readFile(join(root, "prisma", ...path), "utf8");

/** The tables `prisma migrate diff` would create from empty for a schema (offline: no database is asked). */
async function tablesCreatedBy(schemaPath: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(
    join(root, "node_modules", ".bin", "prisma"),
    ["migrate", "diff", "--from-empty", "--to-schema-datamodel", schemaPath, "--script"],
    { cwd: root, env: { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: "1" } },
  );
  return [...stdout.matchAll(/CREATE TABLE "([^"]+)"/g)].map((m) => m[1]!).sort();
}

test("prisma/postgresql/schema.prisma is what prisma/schema.prisma derives (npm run db:postgres-schema after a change)", async () => {
  assert.equal(await schemaOf("postgresql", "schema.prisma"), postgresSchema(await schemaOf("schema.prisma")));
});

test("the derived schema is a PostgreSQL schema Prisma accepts, with the same tables as SQLite's", async () => {
  const derived = await schemaOf("postgresql", "schema.prisma");
  assert.match(derived, /provider = "postgresql"/);
  const [sqlite, postgres] = await Promise.all([
    tablesCreatedBy(join(root, "prisma", "schema.prisma")),
    tablesCreatedBy(join(root, "prisma", "postgresql", "schema.prisma")),
  ]);
  assert.ok(sqlite.length > 5, `tables: ${sqlite.join(", ")}`);
  assert.deepEqual(postgres, sqlite);
});

test("a schema whose datasource is not where the derivation expects it is refused, not half converted", () => {
  assert.throws(() => postgresSchema('generator client {\n  output = "../tracker-api/src/generated/prisma"\n}\n'), /no SQLite datasource/);
});
