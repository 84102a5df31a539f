/**
 * Which database the tracker tests run on: SQLite, or PostgreSQL when
 * P2P_TEST_DATABASE=postgresql. `npm test` (scripts/run-tests.mjs) starts one
 * PostgreSQL server for the whole run and gives its address in
 * P2P_TEST_POSTGRES_URL; every tracker of a test gets a database of its own.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const onPostgres = process.env.P2P_TEST_DATABASE === "postgresql";

/** A new, empty PostgreSQL database on the run's server; its URL. */
export async function newPostgresDatabase(): Promise<string> {
  const server = process.env.P2P_TEST_POSTGRES_URL;
  if (!server) throw new Error("P2P_TEST_DATABASE=postgresql needs the server npm test starts (P2P_TEST_POSTGRES_URL): run it through npm test");
  const name = `tracker_${randomBytes(8).toString("hex")}`;
  const client = new pg.Client({ connectionString: `${server}postgres` });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  return `${server}${name}`;
}
