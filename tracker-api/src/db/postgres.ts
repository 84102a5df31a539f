import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma-postgresql/client.js";
import { TRACKER } from "../config.js";
import type { TrackerDb } from "./open.js";
import { applyPostgresMigrations } from "./postgres-migrations.js";


/** A tracker's PostgreSQL database: the Prisma client, and the notifications the API processes of one tracker share. */
export interface PostgresDatabase {
  readonly db: TrackerDb;
  /** Calls `onMessage` with every payload notified on `channel` (by any process, this one included) from now on. */
  listen(channel: string, onMessage: (payload: string) => void): Promise<void>;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/**
 * Opens a tracker's PostgreSQL database (it must exist; the tracker creates
 * its tables), brings its schema up to date (postgres-migrations.ts) and
 * returns a Prisma client over the pg driver adapter, with a pool of
 * TRACKER.POSTGRES_POOL_SIZE connections, and one more connection that
 * LISTENs when something listens.
 */
export async function openPostgres(url: string): Promise<PostgresDatabase> {
  const migrator = new pg.Client({ connectionString: url });
  await migrator.connect();
  try {
    await applyPostgresMigrations(migrator);
  } finally {
    await migrator.end();
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: TRACKER.POSTGRES_POOL_SIZE,
    idleTimeoutMillis: TRACKER.POSTGRES_IDLE_MS,
    connectionTimeoutMillis: TRACKER.POSTGRES_CONNECT_TIMEOUT_MS,
  });
  // An idle connection the server dropped is replaced at the next checkout; without a listener the error would end the process.
  pool.on("error", () => {});
  const client = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  await client.$connect();
  let listener: pg.Client | undefined;
  const handlers = new Map<string, ((payload: string) => void)[]>();
  return {
    // One model, two generated clients: the PostgreSQL one has the same models and methods as the SQLite one.
    db: client as unknown as TrackerDb,
    async listen(channel, onMessage) {
      if (!listener) {
        listener = new pg.Client({ connectionString: url });
        await listener.connect();
        listener.on("notification", (n) => { for (const handler of handlers.get(n.channel) ?? []) handler(n.payload ?? ""); });
        listener.on("error", () => {});
      }
      if (!handlers.has(channel)) {
        handlers.set(channel, []);
        await listener.query(`LISTEN "${channel}"`);
      }
      handlers.get(channel)!.push(onMessage);
    },
    async close() {
      await listener?.end().catch(() => {});
      await client.$disconnect();
    },
  };
}
