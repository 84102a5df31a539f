/**
 * A throwaway PostgreSQL 15 server for tests and benchmarks: initdb in a new
 * temporary directory, pg_ctl start on a free 127.0.0.1 port (no Unix socket
 * outside that directory), stop and delete everything on `stop()`. initdb
 * and the server refuse to run as root, so as root they run as the
 * `postgres` user (Debian's package makes it) in a directory it owns.
 *
 * Durability is off (fsync, synchronous_commit, full_page_writes): a test
 * database dies with the run, and fsyncs on the shared machine cost seconds.
 */
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "../core/free-port.js";

const run = promisify(execFile);

/** Where Debian's postgresql-15 package puts the server's programs. */
export const POSTGRES_BIN = process.env.P2P_POSTGRES_BIN ?? "/usr/lib/postgresql/15/bin";

export interface PostgresCluster {
  /** postgresql://postgres@127.0.0.1:<port>/<database> */
  url(database: string): string;
  /** Creates a database (a new name for every test file or tracker). */
  createDatabase(name: string): Promise<string>;
  /** The server's main process (its backends are its children): the bench reads their CPU. */
  pid(): number;
  stop(): Promise<void>;
}

export function postgresInstalled(): boolean {
  return existsSync(join(POSTGRES_BIN, "pg_ctl"));
}

export async function startPostgres(options: { maxConnections?: number } = {}): Promise<PostgresCluster> {
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), "p2p-postgres-"));
  const data = join(dir, "data");
  const ids = asRoot ? await userIds("postgres") : undefined;
  if (ids) chownSync(dir, ids.uid, ids.gid);
  const as = (program: string, args: string[]) => asRoot
    ? run("runuser", ["-u", "postgres", "--", join(POSTGRES_BIN, program), ...args], { cwd: dir })
    : run(join(POSTGRES_BIN, program), args, { cwd: dir });
  const port = await freePort();
  let started = false;
  try {
    await as("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
    const settings = [
      `-p ${port}`, "-c listen_addresses=127.0.0.1", `-c unix_socket_directories=${dir}`,
      "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
      `-c max_connections=${options.maxConnections ?? 200}`,
    ].join(" ");
    await as("pg_ctl", ["-D", data, "-l", join(dir, "server.log"), "-o", settings, "-w", "-t", "120", "start"]);
    started = true;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const url = (database: string) => `postgresql://postgres@127.0.0.1:${port}/${database}`;
  return {
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url("postgres") });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    pid: () => Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]),
    async stop() {
      try {
        if (started) await as("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

async function userIds(name: string): Promise<{ uid: number; gid: number }> {
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
  return { uid: Number(uid), gid: Number(gid) };
}
