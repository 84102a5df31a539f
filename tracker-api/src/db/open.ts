import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient } from "../generated/prisma/client.js";
import { applyMigrations } from "./migrations.js";

export type TrackerDb = PrismaClient;

/**
 * Opens (creating if needed) a tracker's SQLite database, brings its schema up
 * to date, and returns a Prisma client over the better-sqlite3 adapter.
 */
export async function openDatabase(path: string): Promise<TrackerDb> {
  mkdirSync(dirname(path), { recursive: true });
  const raw = new Database(path);
  try {
    // WAL lets readers proceed while a write commits.
    raw.pragma("journal_mode = WAL");
    applyMigrations(raw);
  } finally {
    raw.close();
  }
  const prisma = new PrismaClient({ adapter: new PrismaBetterSQLite3({ url: `file:${path}` }) });
  await prisma.$connect();
  return prisma;
}
