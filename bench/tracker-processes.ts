/**
 * The tracker as it is deployed, side by side on SQLite and on PostgreSQL:
 * real tracker processes (tracker-api/src/main.ts) with a second tracker to
 * replicate to, so every acknowledged write was pushed to it (or waited
 * TRACKER.PUSH_WAIT_MS for it). Rows: SQLite with one process, PostgreSQL
 * with 1 and with 4 API processes (--workers) on one database. For each: the
 * default page of a group of 10,000 files (req/s, p99) and share writes with
 * an Idempotency-Key each (acknowledged writes/s, p99), with the CPU each
 * process used during the writes (the machine's cores are often the limit).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { freePort } from "../core/free-port.js";
import { startPostgres, type PostgresCluster } from "../scripts/postgres-cluster.js";
import { cpuSeconds, processTree, programOf } from "./process-cpu.js";

const HASH = "a".repeat(40);
const SECRET = "bench-cluster-secret-0123456789";

export interface ProcessRow {
  setup: string;
  listRequestsPerSecond: number;
  listP99Ms: number;
  writeRequestsPerSecond: number;
  writeP99Ms: number;
  acknowledgedWritesPerSecond: number;
  /** Seconds after the write run until tracker 2 had every write (unacknowledged 0). */
  replicatedWithinS: number;
  /** CPU % (of one core) during the write run: each API process of tracker 1, the PostgreSQL server, tracker 2. */
  cpuPercent: Record<string, number>;
}

interface Setup { title: string; database: "sqlite" | "postgresql"; workers: number }

export const SETUPS: Setup[] = [
  { title: "SQLite, 1 process", database: "sqlite", workers: 1 },
  { title: "PostgreSQL, 1 API process", database: "postgresql", workers: 1 },
  { title: "PostgreSQL, 4 API processes (--workers 4)", database: "postgresql", workers: 4 },
];

export async function benchTrackerProcesses(options: { seconds: number; connections: number; files: number }): Promise<ProcessRow[]> {
  const postgres = await startPostgres();
  const rows: ProcessRow[] = [];
  try {
    for (const setup of SETUPS) rows.push(await benchSetup(setup, postgres, options));
  } finally {
    await postgres.stop();
  }
  return rows;
}

async function benchSetup(setup: Setup, postgres: PostgresCluster, options: { seconds: number; connections: number; files: number }): Promise<ProcessRow> {
  const dir = await mkdtemp(join(tmpdir(), "bench-processes-"));
  const [port1, port2] = [await freePort(), await freePort()];
  const info = join(dir, "tracker_info.txt");
  await writeFile(info, `127.0.0.1:${port1}\n127.0.0.1:${port2}\n`);
  const one = `http://127.0.0.1:${port1}`;
  const two = `http://127.0.0.1:${port2}`;
  const databaseUrl = setup.database === "postgresql" ? await postgres.createDatabase(`bench_${randomUUID().replaceAll("-", "")}`) : undefined;
  const children: ChildProcess[] = [];
  const start = (number: number, args: string[]) => {
    // e.g. BENCH_TRACKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the trackers (node:cluster passes them on to the workers)
    const nodeArgs = (process.env.BENCH_TRACKER_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", "tracker-api/src/main.ts", info, String(number), "--data-dir", join(dir, `data-${number}`), "--cluster-secret", SECRET, ...args],
      { stdio: ["pipe", "ignore", "inherit"], env: { ...process.env, P2P_LOG_LEVEL: "warn" } });
    children.push(child);
    return child;
  };
  try {
    start(2, []);
    const tracker = start(1, databaseUrl ? ["--database-url", databaseUrl, "--workers", String(setup.workers)] : []);
    await Promise.all([waitHealthy(one), waitHealthy(two)]);

    const post = async (path: string, body: unknown, token?: string) => {
      const answer = await fetch(`${one}${path}`, {
        method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      return answer.json() as Promise<Record<string, string>>;
    };
    await post("/users", { userId: "bench", password: "pw" });
    const { token } = await post("/sessions", { userId: "bench", password: "pw", peerAddress: "127.0.0.1:7001" });
    await post("/groups", { groupId: "big" }, token);
    await seedFiles(databaseUrl, join(dir, "data-1", "tracker.db"), options.files);
    const auth = { authorization: `Bearer ${token}` };

    // Each API process loads the group's 10,000-file list at its first listing (services/file-lists.ts), as the
    // in-process rows' setup does before they are timed: an untimed second first, so p99 is the steady state's.
    await autocannon({ url: `${one}/groups/big/files`, headers: auth, duration: 1, connections: options.connections });
    const list = await autocannon({ url: `${one}/groups/big/files`, headers: auth, duration: options.seconds, connections: options.connections });
    const pids = processTree(tracker.pid!);
    const server = processTree(postgres.pid());
    const peer = processTree(children[0]!.pid!);
    const before = cpuSeconds([...pids, ...server, ...peer]);
    const started = performance.now();
    let n = 0;
    const writes = await autocannon({
      url: `${one}/groups/big/files`, method: "POST", headers: { ...auth, "content-type": "application/json" },
      duration: options.seconds, connections: options.connections,
      requests: [{
        setupRequest: (req) => ({
          ...req, headers: { ...req.headers, "idempotency-key": randomUUID() },
          body: JSON.stringify({ fileName: `w-${n++}.bin`, size: 1024, sha1: HASH, pieceSize: 524288, pieceHashes: [HASH] }),
        }),
      }],
    });
    const elapsed = (performance.now() - started) / 1000;
    const after = cpuSeconds([...pids, ...server, ...peer]);
    const percent = (list: number[]) => Math.round((100 * list.reduce((sum, pid) => sum + (after.get(pid)! - before.get(pid)!), 0)) / elapsed);
    const cpuPercent: Record<string, number> = {};
    // tsx runs an esbuild service beside each node process: counted apart from the API processes.
    const apiProcesses = pids.filter((pid) => programOf(pid) === "node");
    apiProcesses.forEach((pid, i) => {
      const share = percent([pid]);
      if (i === 0 && setup.workers > 1) cpuPercent["tracker 1 primary"] = share;
      else cpuPercent[setup.workers > 1 ? `tracker 1 worker ${i}` : "tracker 1"] = share;
    });
    const helpers = pids.filter((pid) => !apiProcesses.includes(pid));
    if (helpers.length > 0) cpuPercent["tracker 1 esbuild (tsx)"] = percent(helpers);
    if (databaseUrl) cpuPercent["PostgreSQL server"] = percent(server);
    cpuPercent["tracker 2 (peer)"] = percent(peer);

    const replicatedAt = performance.now();
    await waitReplicated(one);
    return {
      setup: setup.title,
      listRequestsPerSecond: Math.round(list.requests.average),
      listP99Ms: list.latency.p99,
      writeRequestsPerSecond: Math.round(writes.requests.average),
      writeP99Ms: writes.latency.p99,
      acknowledgedWritesPerSecond: Math.round(writes["2xx"] / writes.duration),
      replicatedWithinS: Number(((performance.now() - replicatedAt) / 1000).toFixed(1)),
      cpuPercent,
    };
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once("exit", resolve)))));
    await rm(dir, { recursive: true, force: true });
  }
}

/** The big group's files and the bench user's holdings, written straight to tracker 1's database (as bench:tracker seeds its in-process tracker). */
async function seedFiles(databaseUrl: string | undefined, sqlitePath: string, files: number): Promise<void> {
  const { openTrackerDatabase } = await import("../tracker-api/src/db/tracker-database.js");
  const { openDatabase } = await import("../tracker-api/src/db/open.js");
  const database = databaseUrl ? await openTrackerDatabase({ databaseUrl, dataDir: tmpdir() }) : undefined;
  const db = database?.db ?? await openDatabase(sqlitePath);
  try {
    const big = (await db.group.findUniqueOrThrow({ where: { name: "big" } })).id;
    const user = (await db.user.findUniqueOrThrow({ where: { name: "bench" } })).id;
    const now = new Date();
    // A thousand rows a call: given all 10,000 at once, Prisma splits them into statements it sends together on
    // one pg client, which pg 8 warns is deprecated (and pg 9 will refuse).
    for (let first = 0; first < files; first += 1000) {
      const batch = Array.from({ length: Math.min(1000, files - first) }, (_, i) => `file-${first + i}.bin`);
      await db.sharedFile.createMany({ data: batch.map((fileName) => ({
        groupId: big, fileName, size: BigInt(1024), sha1: HASH, pieceSize: 524288, pieceHashes: JSON.stringify([HASH]), sharedAt: now,
      })) });
      await db.holding.createMany({ data: batch.map((fileName) => ({ groupId: big, fileName, userId: user, piecesHeld: 1, updatedAt: now })) });
    }
  } finally {
    await (database ? database.close() : db.$disconnect());
  }
}

async function health(base: string): Promise<{ status: string; peers: { unacknowledged: number }[] } | undefined> {
  try {
    const answer = await fetch(`${base}/health`);
    return answer.ok ? (await answer.json()) as { status: string; peers: { unacknowledged: number }[] } : undefined;
  } catch {
    return undefined;
  }
}

async function waitHealthy(base: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while ((await health(base))?.status !== "ok") {
    if (Date.now() > deadline) throw new Error(`${base} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Until tracker 1 says tracker 2 acknowledged every one of its events. */
async function waitReplicated(base: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const view = await health(base);
    if (view && view.peers.every((peer) => peer.unacknowledged === 0)) return;
    if (Date.now() > deadline) throw new Error(`${base}: tracker 2 did not get every write`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
