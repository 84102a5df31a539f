#!/usr/bin/env node
// Runs every *.test.ts beside the code it tests with node's test runner and tsx.
// Node 20's runner does not expand globs itself, so the files are listed here.
// Usage: node scripts/run-tests.mjs [area ...]   e.g. `npm test -- tracker-api`
//
// The tracker and replication files of POSTGRES_FILES run a second time on
// PostgreSQL (P2P_TEST_DATABASE=postgresql), in a second runner beside the
// first, against one PostgreSQL server started for the run
// (scripts/postgres-cluster.ts) and stopped at its end, even on failure.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { spawn } from "node:child_process";
import { register } from "tsx/esm/api";

const AREAS = ["core", "tracker-api", "peer-agent", "cli", "scripts"];

/**
 * Run on PostgreSQL too: every behaviour the API processes of one tracker must
 * keep on a shared database. The HTTP behaviour of one tracker (users,
 * sessions, groups, files, idempotency, quotas, throttles, paging) and
 * replication between tracker processes (sync, recovery,
 * several API processes behind one port). Left to SQLite only: failures (its
 * kill -9 burst asserts that each acknowledged write reached the other tracker
 * within TRACKER.PUSH_WAIT_MS, which beside the SQLite runner on a loaded
 * 2-core machine it missed once on PostgreSQL; it passes alone, and the
 * catch-up after downtime is covered by recovery), the pure rules
 * and the in-process replication tests (apply-rules, batch-apply,
 * name-conflicts, ...: they exercise the same register code through the same
 * SQL, not the database), the nemesis soak, and SQLite's own (db/open,
 * migrations, checkpoints). Chosen so that this runner, beside the other,
 * keeps `npm test` well under 10 minutes on 2 cores.
 */
const POSTGRES_FILES = [
  "tracker-api/test/tracker.test.ts",
  "tracker-api/test/users.test.ts",
  "tracker-api/test/sessions.test.ts",
  "tracker-api/test/groups.test.ts",
  "tracker-api/test/files.test.ts",
  "tracker-api/test/group-files.test.ts",
  "tracker-api/test/file-list.test.ts",
  "tracker-api/test/idempotency.test.ts",
  "tracker-api/test/quotas.test.ts",
  "tracker-api/test/names.test.ts",
  "tracker-api/test/peers.test.ts",
  "tracker-api/test/grant-status.test.ts",
  "tracker-api/test/replication/sync.test.ts",
  "tracker-api/test/replication/recovery.test.ts",
  "tracker-api/test/replication/workers.test.ts",
  "tracker-api/test/replication/shared-log.test.ts",
  "tracker-api/test/db/postgres-migrations.test.ts",
];
/** Files that only make sense on PostgreSQL: not run in the SQLite runner. */
const POSTGRES_ONLY = new Set([
  "tracker-api/test/replication/workers.test.ts", "tracker-api/test/replication/shared-log.test.ts", "tracker-api/test/db/postgres-migrations.test.ts",
]);

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith("-"));

function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    if (entry === "node_modules" || entry === "generated") continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith(".test.ts")) found.push(path);
  }
  return found;
}

// An area with no code yet is skipped; a path asked for by name must exist.
const roots = wanted.length > 0 ? wanted : AREAS.filter((area) => existsSync(area));
const files = roots.flatMap((root) => (statSync(root).isDirectory() ? findTests(root) : [root])).sort();
if (files.length === 0) {
  console.error("no test files found under", roots.join(", "));
  process.exit(1);
}
const onPostgres = files.filter((file) => POSTGRES_FILES.includes(relative(process.cwd(), file)));
const onSqlite = files.filter((file) => !POSTGRES_ONLY.has(relative(process.cwd(), file)));

// Agents started by tests keep their default state and the list of running
// agents here, never in the user's own ~/.local/state.
const stateHome = mkdtempSync(join(tmpdir(), "p2p-test-state-"));
let postgres;
const stopAll = async () => {
  await postgres?.stop().catch((error) => console.error("stopping PostgreSQL:", error));
  postgres = undefined;
  rmSync(stateHome, { recursive: true, force: true });
};
process.once("SIGINT", () => void stopAll().then(() => process.exit(130)));
process.once("SIGTERM", () => void stopAll().then(() => process.exit(143)));

/** One `node --test` over `list`; resolves with its exit code. The PostgreSQL runner's output is kept and printed after the other's. */
function runner(list, env, concurrency, keepOutput) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, ...passThrough, ...list],
    { stdio: ["ignore", keepOutput ? "pipe" : "inherit", keepOutput ? "pipe" : "inherit"], env: { ...process.env, NODE_ENV: "test", XDG_STATE_HOME: stateHome, ...env } },
  );
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code: signal ? 1 : code ?? 1, output })));
}

let failed = false;
try {
  const started = Date.now();
  if (onPostgres.length > 0) {
    // The server helper is TypeScript, shared with the benchmarks.
    register();
    const { startPostgres } = await import("./postgres-cluster.ts");
    postgres = await startPostgres();
  }
  const runs = [runner(onSqlite, {}, 2, false)];
  if (postgres) {
    runs.push(runner(onPostgres, { P2P_TEST_DATABASE: "postgresql", P2P_TEST_POSTGRES_URL: postgres.url("") }, 2, true).then((result) => {
      result.seconds = (Date.now() - started) / 1000;
      return result;
    }));
  }
  const [sqlite, pg] = await Promise.all(runs);
  failed = sqlite.code !== 0;
  if (pg) {
    console.log(`\n# PostgreSQL run (${onPostgres.length} files, P2P_TEST_DATABASE=postgresql), finished ${pg.seconds.toFixed(0)} s after the start:\n`);
    process.stdout.write(pg.output);
    failed ||= pg.code !== 0;
  }
} finally {
  await stopAll();
}
process.exit(failed ? 1 : 0);
