import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type express from "express";
import { openDatabase, type TrackerDb } from "../../src/db/open.js";
import { openTrackerDatabase } from "../../src/db/tracker-database.js";
import { newPostgresDatabase, onPostgres } from "./test-database.js";
import type { StatementWatcher } from "../../src/db/serial-adapter.js";
import { createApp } from "../../src/http/app.js";
import { createTracker, type Tracker } from "../../src/tracker.js";
import { loadGrantKey } from "../../src/grant-key.js";
import type { Quotas } from "../../src/services/context.js";
import { conformanceChecked } from "./conformance.js";

/**
 * A tracker app on a fresh database in a temp dir; `close()` removes everything.
 * `quotas` overrides some of TRACKER.QUOTAS (small ones, to reach them in a test);
 * `watchStatements` is told every SQL statement (db/open.ts).
 * Every answer it gives is checked against openapi.yaml (support/conformance.ts),
 * and `close()` fails with the answers that do not match it.
 */
export async function startTrackerApp(
  options: { quotas?: Partial<Quotas>; watchStatements?: StatementWatcher } = {},
): Promise<{ app: express.Express; db: TrackerDb; tracker: Tracker; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "tracker-app-"));
  // On PostgreSQL (support/test-database.ts) statements are not watched: the watcher checks SQLite's limit of bound values.
  const database = onPostgres
    ? await openTrackerDatabase({ databaseUrl: await newPostgresDatabase(), dataDir: dir })
    : { db: await openDatabase(join(dir, "tracker.db"), options.watchStatements ? { watchStatements: options.watchStatements } : {}), siblings: undefined };
  const { db } = database;
  const tracker = createTracker({
    db, id: "tracker-test", grantKey: await loadGrantKey("tracker-test"),
    ...(options.quotas ? { quotas: options.quotas } : {}), ...(database.siblings ? { siblings: database.siblings } : {}),
  });
  const { app, violations } = await conformanceChecked(createApp(tracker));
  return {
    app,
    db,
    tracker,
    async close() {
      await ("close" in database ? database.close() : db.$disconnect());
      await rm(dir, { recursive: true, force: true });
      if (violations.length > 0) throw new Error(`answers that do not match openapi.yaml:\n${[...new Set(violations)].join("\n")}`);
    },
  };
}

/** The internal id of the user now called `name` (rows refer to users by internal id). */
export async function userIdOf(db: TrackerDb, name: string): Promise<string> {
  return (await db.user.findUniqueOrThrow({ where: { name } })).id;
}

/** The internal id of the group now called `name`. */
export async function groupIdOf(db: TrackerDb, name: string): Promise<string> {
  return (await db.group.findUniqueOrThrow({ where: { name } })).id;
}
