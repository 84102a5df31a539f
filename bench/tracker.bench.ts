/**
 * npm run bench:tracker — throughput and p99 of the tracker's hottest read
 * (the first page of a group of 10,000 files: what a client asks for) and of
 * share writes, each against a bare Express route returning the same JSON from
 * memory, as the reference.
 *
 * The servers (tracker and bare route) run in a child process and autocannon
 * in this one, so the load generator does not share a thread with the server
 * it measures. Writes carry a fresh Idempotency-Key each, as the client sends.
 * A first row shows the floor for the listing: node:http sending the page's
 * bytes from memory. So that paging hides no cost, separate rows time one
 * client walking all 10,000 files page by page (sequentially, as the CLI does)
 * against one GET of the whole list from the bare route.
 * Then the same listing and share writes against real tracker processes
 * replicating to a second tracker, side by side: SQLite, and PostgreSQL with
 * 1 and with 4 API processes (tracker-processes.ts).
 * BENCH_SECONDS sets the length of each run (default 5); BENCH_WALKS the walks
 * timed per row (default 30); BENCH_ONLY=writes (or listing) runs only the write (or listing) rows;
 * BENCH_ONLY=processes only the rows of tracker processes, BENCH_PROCESSES=0 leaves them out;
 * BENCH_TRACKER_NODE_ARGS passes node flags to those processes (e.g. "--cpu-prof --cpu-prof-dir=DIR").
 */
import { fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import autocannon from "autocannon";
import express from "express";

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 5);
const WALKS = Number(process.env.BENCH_WALKS ?? 30);
const CONNECTIONS = 10;
const FILES = 10_000;
const HASH = "a".repeat(40);
const GOALS = { listingRatio: 0.5, listingP99Ms: 20, writesPerSecond: 500, postgresWritesRatio: 1.5 };

interface Servers { tracker: string; bare: string; floor: string; token: string }

if (process.env.BENCH_ROLE === "server") await serve();
else {
  if (process.env.BENCH_ONLY !== "processes") await measure();
  if (process.env.BENCH_PROCESSES !== "0" && (process.env.BENCH_ONLY ?? "processes") === "processes") await measureProcesses();
}

/** SQLite and PostgreSQL trackers as deployed, one row each (tracker-processes.ts). */
async function measureProcesses(): Promise<void> {
  const { benchTrackerProcesses } = await import("./tracker-processes.js");
  const rows = await benchTrackerProcesses({ seconds: DURATION_S, connections: CONNECTIONS, files: FILES });
  for (const row of rows) console.log(JSON.stringify(row));
  const sqlite = rows[0]!.acknowledgedWritesPerSecond;
  const four = rows[2]!;
  const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
  console.log(`PostgreSQL with 4 API processes / SQLite, acknowledged replicated writes/s: ${(four.acknowledgedWritesPerSecond / sqlite).toFixed(2)}`);
  console.log(`goal 4 processes on PostgreSQL >= ${GOALS.postgresWritesRatio}x one SQLite tracker's writes/s: ${verdict(four.acknowledgedWritesPerSecond >= GOALS.postgresWritesRatio * sqlite)}`);
  for (const row of rows) console.log(`goal listing p99 < ${GOALS.listingP99Ms} ms (${row.setup}): ${verdict(row.listP99Ms < GOALS.listingP99Ms)}`);
}

/** Child process: a tracker with a group of 10,000 files, and the bare reference. */
async function serve(): Promise<void> {
  const { openDatabase } = await import("../tracker-api/src/db/open.js");
  const { createApp } = await import("../tracker-api/src/http/app.js");
  const { createTracker } = await import("../tracker-api/src/tracker.js");
  const { loadGrantKey } = await import("../tracker-api/src/grant-key.js");
  const dir = await mkdtemp(join(tmpdir(), "bench-tracker-"));
  const db = await openDatabase(join(dir, "tracker.db"));
  const tracker = createApp(createTracker({ db, id: "bench", grantKey: await loadGrantKey("bench") }));
  const trackerUrl = await listen(tracker);

  const post = (path: string, body: unknown, token?: string) => fetch(`${trackerUrl}${path}`, {
    method: "POST", body: JSON.stringify(body),
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
  }).then((r) => r.json() as Promise<Record<string, string>>);
  await post("/users", { userId: "bench", password: "pw" });
  const { token } = await post("/sessions", { userId: "bench", password: "pw", peerAddress: "127.0.0.1:7001" });
  await post("/groups", { groupId: "big" }, token);
  const now = new Date();
  // Rows refer to the group and the user by internal id.
  const big = (await db.group.findUniqueOrThrow({ where: { name: "big" } })).id;
  const benchUser = (await db.user.findUniqueOrThrow({ where: { name: "bench" } })).id;
  await db.sharedFile.createMany({ data: Array.from({ length: FILES }, (_, i) => ({
    groupId: big, fileName: `file-${i}.bin`, size: BigInt(1024), sha1: HASH, pieceSize: 524288, pieceHashes: JSON.stringify([HASH]), sharedAt: now,
  })) });
  await db.holding.createMany({ data: Array.from({ length: FILES }, (_, i) => ({
    groupId: big, fileName: `file-${i}.bin`, userId: benchUser, piecesHeld: 1, updatedAt: now,
  })) });
  // The default page, and the whole list (walked once) for the bare route's full answer.
  const auth = { authorization: `Bearer ${token}` };
  const page = (await (await fetch(`${trackerUrl}/groups/big/files`, { headers: auth })).json()) as { items: unknown[] };
  const whole = await walkFiles(trackerUrl, auth, 1000);
  if (page.items.length !== 200 || whole.length !== FILES) throw new Error(`bench setup: page of ${page.items.length}, list of ${whole.length}`);

  const bare = express();
  bare.get("/files", (_req, res) => { res.json(page); });
  bare.get("/files/all", (_req, res) => { res.json(whole); });
  bare.post("/files", express.json(), (req, res) => { res.status(201).json(req.body); });
  const bareUrl = await listen(bare);
  // The floor: node:http sending the page's bytes from memory, no framework, no serialization.
  const bytes = Buffer.from(JSON.stringify(page));
  const floor = createServer((_req, res) => { res.setHeader("content-type", "application/json"); res.end(bytes); });
  const floorUrl = await listen(floor);

  process.send!({ tracker: trackerUrl, bare: bareUrl, floor: floorUrl, token: token! } satisfies Servers);
  process.once("disconnect", () => {
    void db.$disconnect().then(() => rm(dir, { recursive: true, force: true })).then(() => process.exit(0));
  });
}

async function listen(app: express.Express | Server): Promise<string> {
  const server = app.listen(0, "127.0.0.1");
  // Seeding 10,000 files can outlast Node's 5 s keep-alive on a busy machine; the setup's
  // next request then reused a socket the server had closed (ECONNRESET, the bench died).
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.once("listening", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** This process: autocannon against the child's servers. */
async function measure(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, BENCH_ROLE: "server" },
    // e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof" to profile the tracker
    execArgv: ["--import", "tsx", ...(process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean)],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const servers = await new Promise<Servers>((resolve, reject) => {
    child.once("message", (message) => resolve(message as Servers));
    child.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  try {
    const auth = { authorization: `Bearer ${servers.token}` };
    const writesOnly = process.env.BENCH_ONLY === "writes";
    let listRatio = Number.NaN;
    let list = { requestsPerSecond: Number.NaN, p99Ms: Number.NaN, acknowledgedPerSecond: Number.NaN };
    if (!writesOnly) {
      await run("floor: node:http sending the default page's bytes from memory", { url: servers.floor });
      const refList = await run("bare express: default page (200 files) from memory", { url: `${servers.bare}/files` });
      list = await run("tracker: default page (200 of 10,000 files)", { url: `${servers.tracker}/groups/big/files`, headers: auth });
      listRatio = list.requestsPerSecond / refList.requestsPerSecond;
      console.log(`listing ratio tracker/bare: ${listRatio.toFixed(2)}`);

      const refWalk = await time("bare express: the whole 10,000-file list in one GET", async () => {
        const items = (await (await fetch(`${servers.bare}/files/all`)).json()) as unknown[];
        return items.length;
      });
      for (const limit of [1000, 200]) {
        const walk = await time(`tracker: walk all 10,000 files, pages of ${limit}, one client`, async () => {
          return (await walkFiles(servers.tracker, auth, limit)).length;
        });
        console.log(`walk (pages of ${limit}) / one full GET, median: ${(walk.medianMs / refWalk.medianMs).toFixed(2)}`);
      }
    }

    const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
    if (!writesOnly) {
      console.log(`goal listing >= ${GOALS.listingRatio * 100}% of bare: ${verdict(listRatio >= GOALS.listingRatio)}`);
      console.log(`goal listing p99 < ${GOALS.listingP99Ms} ms: ${verdict(list.p99Ms < GOALS.listingP99Ms)}`);
    }
    if (process.env.BENCH_ONLY === "listing") return;

    let n = 0;
    const shareBody = () => JSON.stringify({ fileName: `w-${n++}.bin`, size: 1024, sha1: HASH, pieceSize: 524288, pieceHashes: [HASH] });
    const refWrite = await run("bare express: echo a share body", {
      url: `${servers.bare}/files`, method: "POST", headers: { "content-type": "application/json" }, body: shareBody(),
    });
    const write = await run("tracker: share writes (new file each, Idempotency-Key)", {
      url: `${servers.tracker}/groups/big/files`, method: "POST", headers: { ...auth, "content-type": "application/json" },
      requests: [{
        setupRequest: (req) => ({ ...req, body: shareBody(), headers: { ...req.headers, "idempotency-key": randomUUID() } }),
      }],
    });
    console.log(`share writes ratio tracker/bare: ${(write.requestsPerSecond / refWrite.requestsPerSecond).toFixed(2)}`);
    console.log(`goal >= ${GOALS.writesPerSecond} acknowledged writes/s: ${verdict(write.acknowledgedPerSecond >= GOALS.writesPerSecond)}`);
  } finally {
    child.disconnect();
  }
}

/** Every file of the big group, page after page, as one client (the CLI) walks them. */
async function walkFiles(trackerUrl: string, auth: Record<string, string>, limit: number): Promise<unknown[]> {
  const files: unknown[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `${trackerUrl}/groups/big/files?limit=${limit}${cursor === null ? "" : `&cursor=${cursor}`}`;
    const page = (await (await fetch(url, { headers: auth })).json()) as { items: unknown[]; nextCursor: string | null };
    files.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return files;
}

/** One client, sequential: a few untimed warm-up rounds, then WALKS timed ones; each must see all FILES files. */
async function time(title: string, once: () => Promise<number>) {
  for (let i = 0; i < 3; i++) await once();
  const ms: number[] = [];
  for (let i = 0; i < WALKS; i++) {
    const started = performance.now();
    const count = await once();
    ms.push(performance.now() - started);
    if (count !== FILES) throw new Error(`${title}: saw ${count} files, not ${FILES}`);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => Number(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(1));
  const line = { title, runs: WALKS, medianMs: at(0.5), p90Ms: at(0.9), maxMs: at(1) };
  console.log(JSON.stringify(line));
  return line;
}

async function run(title: string, options: autocannon.Options) {
  const result = await autocannon({ duration: DURATION_S, connections: CONNECTIONS, ...options });
  const line = {
    title,
    requestsPerSecond: Math.round(result.requests.average),
    p99Ms: result.latency.p99,
    acknowledgedPerSecond: Math.round(result["2xx"] / result.duration),
    errors: result.errors,
    non2xx: result.non2xx,
  };
  console.log(JSON.stringify(line));
  return line;
}
