/** Real tracker processes on loopback for the replication tests. */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { request } from "undici";
import { freePort } from "../../../core/free-port.js";
import { sign } from "../../src/replication/signing.js";
import { newPostgresDatabase, onPostgres } from "../support/test-database.js";

export const SECRET = "test-cluster-secret-0123456789";


export interface TrackerProcess {
  number: number;
  url: string;
  child: ChildProcessWithoutNullStreams | undefined;
  output: string;
}

export class Cluster {
  private constructor(
    readonly dir: string,
    readonly info: string,
    readonly trackers: TrackerProcess[],
  ) {}

  /** `startTimeoutMs`: how long each tracker gets to answer (a long run on a loaded machine wants more). */
  /** `workers`: API processes behind each tracker's port, by tracker number (PostgreSQL only). */
  static async start(count = 2, options: { startTimeoutMs?: number; workers?: Record<number, number> } = {}): Promise<Cluster> {
    // A port found free can be taken by another test's process before the tracker binds it (the PostgreSQL run goes
    // on beside this one): that start fails with EADDRINUSE, and the cluster starts again on other ports.
    for (let attempt = 1; ; attempt++) {
      try {
        return await Cluster.#startOnce(count, options);
      } catch (error) {
        if (attempt >= 3 || !/EADDRINUSE/.test(String(error))) throw error;
      }
    }
  }

  static async #startOnce(count: number, options: { startTimeoutMs?: number; workers?: Record<number, number> }): Promise<Cluster> {
    const dir = await mkdtemp(join(tmpdir(), "tracker-sync-"));
    const ports: number[] = [];
    for (let i = 0; i < count; i++) ports.push(await freePort());
    const info = join(dir, "tracker_info.txt");
    await writeFile(info, ports.map((p) => `127.0.0.1:${p}`).join("\n") + "\n");
    const cluster = new Cluster(dir, info, ports.map((port, i) => ({ number: i + 1, url: `http://127.0.0.1:${port}`, child: undefined, output: "" })));
    if (options.startTimeoutMs) cluster.startTimeoutMs = options.startTimeoutMs;
    const started = await Promise.allSettled(cluster.trackers.map((t) => {
      const workers = options.workers?.[t.number];
      return cluster.startTracker(t.number, workers !== undefined ? { workers } : {});
    }));
    const failed = started.find((result) => result.status === "rejected");
    if (failed) {
      // Nobody else holds the cluster yet: stop the trackers that did start, or they outlive the test.
      await cluster.stop();
      throw failed.reason;
    }
    return cluster;
  }

  /** Two trackers took 35 s to answer at load average 40 on the shared 2-core machine; 40 s failed whole files. */
  startTimeoutMs = 90_000;

  tracker(number: number): TrackerProcess {
    return this.trackers[number - 1]!;
  }

  /** On PostgreSQL (support/test-database.ts): each tracker's database, made at its first start, made anew by wipe(). */
  readonly #databases = new Map<number, string>();

  /**
   * Starts tracker `number`; waits until it answers and, unless told not to,
   * until it no longer recovers (a new database pulls back first). `workers`:
   * API processes behind its port (PostgreSQL only).
   */
  async startTracker(number: number, options: { waitRecovered?: boolean; workers?: number; extraArgs?: string[] } = {}): Promise<void> {
    const tracker = this.tracker(number);
    const database: string[] = [];
    if (onPostgres) {
      if (!this.#databases.has(number)) this.#databases.set(number, await newPostgresDatabase());
      database.push("--database-url", this.#databases.get(number)!);
    }
    if (options.workers !== undefined) database.push("--workers", String(options.workers));
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "tracker-api/src/main.ts", this.info, String(number), "--data-dir", join(this.dir, `data-${number}`), "--cluster-secret", SECRET, ...database, ...(options.extraArgs ?? [])],
      { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, P2P_TEST_SWITCHES: "1", P2P_LOG_LEVEL: "warn" } },
    );
    tracker.child = child;
    tracker.output = "";
    child.stdout.on("data", (chunk) => (tracker.output += chunk));
    child.stderr.on("data", (chunk) => (tracker.output += chunk));
    // A tracker that ends on its own fails the test later with ECONNREFUSED: say why here.
    child.once("exit", (code, signal) => {
      if (signal === null) process.stderr.write(`tracker ${number} exited ${code}:\n${tracker.output}\n`);
    });
    // Ours only if it names this cluster's other trackers as its peers: a tracker that lost its port to another
    // test's process would otherwise be taken for the process that holds the port.
    const others = this.trackers.filter((t) => t.number !== number).map((t) => t.url).sort().join(" ");
    await waitUntil(async () => {
      if (child.exitCode !== null) throw new Error(`tracker ${number} exited ${child.exitCode}:\n${tracker.output}`);
      const view = await health(tracker.url).catch(() => undefined);
      if (view === undefined || (view.peers ?? []).map((p) => p.url).sort().join(" ") !== others) return false;
      return options.waitRecovered === false || view.status !== "recovering";
    }, this.startTimeoutMs, `tracker ${number} to start`);
  }

  /** Where tracker `number` keeps its database. */
  dataDir(number: number): string {
    return join(this.dir, `data-${number}`);
  }

  readonly #siblings: TrackerProcess[] = [];

  /**
   * One more API process of tracker `number`, started on its own (not by
   * --workers): the same database and data dir, listening on another port
   * (as behind a reverse proxy). Stopped with the cluster.
   */
  async startSibling(number: number): Promise<TrackerProcess> {
    const url = this.#databases.get(number);
    if (!url) throw new Error("a sibling process needs tracker's PostgreSQL database (start it first)");
    const port = await freePort();
    const sibling: TrackerProcess = { number, url: `http://127.0.0.1:${port}`, child: undefined, output: "" };
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "tracker-api/src/main.ts", this.info, String(number), "--data-dir", this.dataDir(number), "--cluster-secret", SECRET,
        "--database-url", url, "--port", String(port)],
      { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, P2P_TEST_SWITCHES: "1", P2P_LOG_LEVEL: "warn" } },
    );
    sibling.child = child;
    this.#siblings.push(sibling);
    child.stdout.on("data", (chunk) => (sibling.output += chunk));
    child.stderr.on("data", (chunk) => (sibling.output += chunk));
    await waitUntil(async () => {
      if (child.exitCode !== null) throw new Error(`sibling of tracker ${number} exited ${child.exitCode}:\n${sibling.output}`);
      return (await health(sibling.url).catch(() => undefined))?.status === "ok";
    }, this.startTimeoutMs, `sibling of tracker ${number} to start`);
    return sibling;
  }

  /** Tracker `number`'s PostgreSQL database (undefined on SQLite). */
  databaseUrl(number: number): string | undefined {
    return this.#databases.get(number);
  }

  /** Runs a statement on tracker `number`'s database behind its back, whichever kind it is. */
  async execute(number: number, sql: string): Promise<void> {
    const url = this.#databases.get(number);
    if (url) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(sql);
      } finally {
        await client.end();
      }
      return;
    }
    const db = new Database(join(this.dataDir(number), "tracker.db"));
    try {
      db.pragma("busy_timeout = 5000");
      db.prepare(sql).run();
    } finally {
      db.close();
    }
  }

  /** kill -9 */
  async kill(number: number): Promise<void> {
    const tracker = this.tracker(number);
    const child = tracker.child;
    if (!child || child.exitCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
    tracker.child = undefined;
  }

  /** kill -9, then rm -rf of its data directory: a lost disk (start it again on an empty database). */
  async wipe(number: number): Promise<void> {
    await this.kill(number);
    await rm(this.dataDir(number), { recursive: true, force: true });
    this.#databases.delete(number);
  }

  /** SIGSTOP: the process stays, its sockets still accept, nothing is answered. */
  freeze(number: number): void {
    this.tracker(number).child?.kill("SIGSTOP");
  }

  /** SIGCONT after freeze. */
  thaw(number: number): void {
    this.tracker(number).child?.kill("SIGCONT");
  }

  async partition(blocked: boolean): Promise<void> {
    for (const t of this.trackers) {
      if (t.child) await call(t.url, "POST", "/replication/test/partition", { body: { blocked } });
    }
  }

  /** SIGKILL to every tracker at once, synchronously: for a process that is exiting. */
  killNow(): void {
    for (const t of this.trackers) t.child?.kill("SIGKILL");
  }

  async stop(): Promise<void> {
    for (const sibling of this.#siblings) sibling.child?.kill("SIGKILL");
    for (const t of this.trackers) this.thaw(t.number);
    for (const t of this.trackers) await this.kill(t.number);
    await rm(this.dir, { recursive: true, force: true });
  }
}

export interface Answer {
  status: number;
  headers?: Record<string, string | string[] | undefined>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function call(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string>; rawBody?: string } = {},
): Promise<Answer> {
  const response = await request(`${base}${path}`, {
    method: method as "GET",
    headers: {
      ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: options.rawBody ?? (options.body !== undefined ? JSON.stringify(options.body) : undefined),
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body: text === "" ? undefined : JSON.parse(text) };
}

/** /health; `digest` is absent while the tracker has not read its state since the last change. */
export async function health(base: string): Promise<{ status: string; digest?: string; peers: { trackerId: string; url: string; behind: number; unacknowledged: number }[] }> {
  const answer = await call(base, "GET", "/health");
  if (answer.status !== 200) throw new Error(`health ${answer.status}`);
  return answer.body;
}

/** The state digest read now (the signed /replication/digest, as an operator with the cluster secret asks for it). */
export async function digest(base: string): Promise<string> {
  const answer = await call(base, "GET", "/replication/digest", { headers: sign(SECRET, "GET", "/replication/digest", "") });
  if (answer.status !== 200) throw new Error(`digest ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body.digest as string;
}

export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until every running tracker reports ok with the same digest of its current state; returns it. */
export async function converged(cluster: Cluster, timeoutMs = 15_000): Promise<string> {
  let digests: (string | undefined)[] = [];
  let seen = "nothing yet";
  try {
    await waitUntil(async () => {
      const running = cluster.trackers.filter((t) => t.child);
      const views = await Promise.all(running.map((t) => health(t.url)));
      digests = views.map((v) => v.digest);
      seen = JSON.stringify(views.map((v) => ({ status: v.status, digest: v.digest, peers: v.peers })));
      return views.every((v) => v.status === "ok" && v.digest !== undefined) && new Set(digests).size === 1;
    }, timeoutMs, "equal digests");
  } catch (error) {
    // Which tracker was behind, recovering or different is what tells a slow machine from a lost event.
    throw new Error(`${(error as Error).message}; last health: ${seen}`);
  }
  return digests[0]!;
}

export async function createUser(base: string, userId: string, password = "pw"): Promise<Answer> {
  return call(base, "POST", "/users", { body: { userId, password } });
}

export async function login(base: string, userId: string, password = "pw"): Promise<string> {
  const answer = await call(base, "POST", "/sessions", { body: { userId, password, peerAddress: "127.0.0.1:7001" } });
  if (answer.status !== 201) throw new Error(`login ${userId} on ${base}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.token as string;
}
