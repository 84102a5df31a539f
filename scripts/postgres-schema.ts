/**
 * npm run db:postgres-schema: writes prisma/postgresql/schema.prisma from
 * prisma/schema.prisma (tracker-api/src/db/postgres-schema.ts) and
 * prisma/postgresql/migrations from prisma/migrations (postgres-migrations.ts).
 * Run it after every change of the schema or new migration; a test fails
 * until it has been run.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { postgresSchema } from "../tracker-api/src/db/postgres-schema.js";
import { findPackageRoot } from "../tracker-api/src/package-root.js";
import { derivePostgresMigrations } from "./postgres-migrations.js";

const root = findPackageRoot();
const target = join(root, "prisma", "postgresql", "schema.prisma");
writeFileSync(target, postgresSchema(readFileSync(join(root, "prisma", "schema.prisma"), "utf8")));
console.log(`wrote ${target}`);
for (const name of await derivePostgresMigrations(root)) console.log(`wrote prisma/postgresql/migrations/${name}/migration.sql`);
