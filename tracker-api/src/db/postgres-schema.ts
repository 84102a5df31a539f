/**
 * The PostgreSQL schema is derived from the one model, prisma/schema.prisma
 * (SQLite, the embedded default), so that the two never describe different
 * tables: the same models, with the datasource and the generated client's
 * directory of PostgreSQL. scripts/postgres-schema.ts writes it to
 * prisma/postgresql/schema.prisma; a test fails when the file and this
 * derivation drift apart (issue 16).
 */

const HEADER = "// Derived from prisma/schema.prisma by `npm run db:postgres-schema`: edit that file, then run the script.\n\n";

const SQLITE_DATASOURCE = /(?:\/\/[^\n]*\n)*datasource db \{\n\s*provider = "sqlite"\n\s*url\s*= "[^"]*"\n\}/;
const CLIENT_OUTPUT = /output(\s*)= "\.\.\/tracker-api\/src\/generated\/prisma"/;

/** The PostgreSQL schema for a SQLite schema of this project; throws when the parts it replaces are not where it expects them. */
export function postgresSchema(sqliteSchema: string): string {
  if (!SQLITE_DATASOURCE.test(sqliteSchema)) throw new Error("prisma/schema.prisma: no SQLite datasource block where one was expected");
  if (!CLIENT_OUTPUT.test(sqliteSchema)) throw new Error("prisma/schema.prisma: the client's output is not ../tracker-api/src/generated/prisma");
  return HEADER + sqliteSchema
    .replace(SQLITE_DATASOURCE, [
      "// A PostgreSQL database, by the URL in DATABASE_URL.",
      "datasource db {",
      '  provider = "postgresql"',
      '  url      = env("DATABASE_URL")',
      "}",
    ].join("\n"))
    // One directory up from prisma/postgresql/, and a client of its own (the query compiler is per provider).
    .replace(CLIENT_OUTPUT, 'output$1= "../../tracker-api/src/generated/prisma-postgresql"');
}
