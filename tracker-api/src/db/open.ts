import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient } from "../generated/prisma/client.js";
import { applyMigrations } from "./migrations.js";
import { SerializedSqliteAdapterFactory, type StatementWatcher } from "./serial-adapter.js";
import { TRACKER } from "../config.js";

export type TrackerDb = PrismaClient;
/** The client inside an interactive transaction. */
export type Tx = Parameters<Parameters<TrackerDb["$transaction"]>[0]>[0];


/**
 * Opens (creating if needed) a tracker's SQLite database, brings its schema up
 * to date, and returns a Prisma client over the better-sqlite3 adapter.
 *
 * WAL lets readers proceed while a write commits, and with synchronous=NORMAL a
 * commit appends to the WAL without waiting for fsync: a crash of the tracker
 * process loses nothing, a power cut may lose the last commits but never
 * corrupts the database (peers re-announce what they hold at the next login).
 *
 * The connection's own checkpoints (copying the WAL into the database, with an
 * fsync of both) happen only past SELF_CHECKPOINT_PAGES: a tracker process
 * runs them in a worker thread (checkpointInBackground, started and stopped
 * by the process beside this connection) instead of inside whichever commit
 * crosses SQLite's threshold, where they blocked every request for several ms.
 * `watchStatements` is told every statement before it runs (tests check the
 * bound values of each).
 */
export async function openDatabase(path: string, options: { watchStatements?: StatementWatcher } = {}): Promise<TrackerDb> {
  mkdirSync(dirname(path), { recursive: true });
  const raw = new Database(path);
  try {
    raw.pragma("journal_mode = WAL");
    applyMigrations(raw);
  } finally {
    raw.close();
  }
  const adapter = new SerializedSqliteAdapterFactory(new PrismaBetterSQLite3({ url: `file:${path}`, timeout: TRACKER.BUSY_TIMEOUT_MS }), options.watchStatements);
  const prisma = new PrismaClient({ adapter });
  await prisma.$connect();
  await prisma.$executeRawUnsafe("PRAGMA synchronous = NORMAL");
  await prisma.$queryRawUnsafe(`PRAGMA wal_autocheckpoint = ${TRACKER.SELF_CHECKPOINT_PAGES}`);
  return prisma;
}
