import { join } from "node:path";
import { checkpointInBackground } from "./checkpoints.js";
import { openDatabase, type TrackerDb } from "./open.js";
import { openPostgres } from "./postgres.js";
import { postgresSiblings, type Siblings } from "../replication/siblings.js";

/** A tracker process's database, whichever kind, and what closes it. */
export interface TrackerDatabase {
  readonly db: TrackerDb;
  /** The other API processes on the same database (PostgreSQL); undefined on SQLite, served by one process. */
  readonly siblings: Siblings | undefined;
  close(): Promise<void>;
}

/**
 * Opens the database a tracker process runs on: PostgreSQL at `databaseUrl`
 * when given (shared with the tracker's other API processes), otherwise
 * SQLite at <dataDir>/tracker.db with its background checkpointer.
 */
export async function openTrackerDatabase(where: { databaseUrl?: string; dataDir: string }): Promise<TrackerDatabase> {
  if (where.databaseUrl !== undefined) {
    const database = await openPostgres(where.databaseUrl);
    return { db: database.db, siblings: await postgresSiblings(database), close: () => database.close() };
  }
  const path = join(where.dataDir, "tracker.db");
  const db = await openDatabase(path);
  const checkpointer = checkpointInBackground(path);
  return {
    db,
    siblings: undefined,
    async close() {
      await checkpointer.stop();
      await db.$disconnect();
    },
  };
}
