/**
 * `npm run bench:load [-- --clients 200 --seconds 30 --think-ms 1000]`: 200
 * simulated users against two synchronized tracker processes on loopback,
 * then a check that every acknowledged write is on both trackers and that
 * their digests agree. Goal: zero errors, zero lost writes, p99 < 100 ms.
 *
 * The model. Each simulated user is a `client` process (its CLI and its peer
 * agent share one keep-alive connection pool to one tracker; half the users
 * talk to each tracker) doing what the real ones do:
 * - its agent announces every `--heartbeat-ms` (15 s, the `intervalSeconds`
 *   a tracker answers; the first at a random phase), with every holding it
 *   has, as `PeerNode` does (but one announce at a time, see announce());
 * - its user types commands with a think time drawn from an exponential
 *   distribution of mean `--think-ms` (1 s: a busy user, or a script); the
 *   commands, by weight: list_files 25, list_groups 15, peers of a file 15,
 *   download_file 10, upload_file 10, list members 10, list_requests 8 (an
 *   owner; the others list groups), create_group 5, logout + login 2;
 * - a download_file asks for the peers of another member's file and then the
 *   agent announces its progress every `--progress-ms` (1 s, the agent's
 *   AGENT.PROGRESS_ANNOUNCE_MS) for a download time of mean `--download-s` (5 s),
 *   the last announce with the file complete.
 * With the defaults that offers ≈ 200 user commands/s, ≈ 13 heartbeats/s and
 * ≈ 100 progress announces/s: ≈ 300 operations/s (the bench prints what it
 * offered and what was done).
 *
 * Open loop: every operation has a scheduled start (the user's previous
 * scheduled start plus a think time, the heartbeat period, the progress
 * period) and its latency is measured from that time, not from when the
 * simulated client got round to sending it, so a slow answer that delays the
 * user's next command counts against that command too (no coordinated
 * omission). A user's commands and each agent timer run one at a time, as in
 * the real client. `--think-ms 0` is the saturation mode: users send their
 * next command as soon as the previous one is answered (closed loop; latency
 * from the send; the agents keep their timers), which measures capacity, not
 * 200 users. `--timeline` adds p50/p99 per second of the run.
 *
 * Printed: offered and achieved operations/s, p50/p99 overall and per
 * operation type, errors, acknowledged and lost writes (shares, new groups,
 * complete downloads, logins and logouts, checked on both trackers), digests.
 */
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Pool } from "undici";
import { Cluster, converged, digest } from "../tracker-api/test/replication/cluster.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "200" },
    seconds: { type: "string", default: "30" },
    groups: { type: "string", default: "20" },
    "think-ms": { type: "string", default: "1000" },
    "heartbeat-ms": { type: "string", default: "15000" },
    "progress-ms": { type: "string", default: "1000" },
    "download-s": { type: "string", default: "5" },
    timeline: { type: "boolean", default: false },
  },
});
const CLIENTS = Number(values.clients);
const SECONDS = Number(values.seconds);
const GROUPS = Number(values.groups);
const THINK_MS = Number(values["think-ms"]);
const HEARTBEAT_MS = Number(values["heartbeat-ms"]);
const PROGRESS_MS = Number(values["progress-ms"]);
const DOWNLOAD_MS = Number(values["download-s"]) * 1000;
const OPEN_LOOP = THINK_MS > 0;
const numbers = [CLIENTS, SECONDS, GROUPS, THINK_MS, HEARTBEAT_MS, PROGRESS_MS, DOWNLOAD_MS];
if (numbers.some((n) => !Number.isFinite(n) || n < 0) || GROUPS < 1 || CLIENTS < 2 * GROUPS || HEARTBEAT_MS <= 0 || PROGRESS_MS <= 0) {
  process.stderr.write("error: every option is a number ≥ 0, --groups ≥ 1, --clients ≥ 2 × --groups (every group has two members), --heartbeat-ms and --progress-ms > 0\n");
  process.exit(2);
}
const PIECE_SIZE = 524288;
/** Pieces of every seed file (a 16 MiB file), so a download has progress to announce. */
const SEED_PIECES = 32;

interface Answer {
  status: number;
  body: unknown;
}

const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");
const exponential = (mean: number) => -mean * Math.log(1 - Math.random());
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const sleepUntil = (at: number) => {
  const wait = at - performance.now();
  return wait > 0 ? new Promise<void>((resolve) => setTimeout(resolve, wait)) : Promise.resolve();
};
const runId = randomBytes(3).toString("hex");

const cluster = await Cluster.start(2);
const setupPools = cluster.trackers.map((t) => new Pool(t.url, { connections: 16 }));

/** Every item of a paged list, following nextCursor. */
async function everyItem<T>(pool: Pool, path: string, token: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const page = expect(await call(pool, "GET", `${path}?limit=1000${cursor ? `&cursor=${cursor}` : ""}`, token), 200, `GET ${path}`).body as { items: T[]; nextCursor: string | null };
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

async function call(pool: Pool, method: "GET" | "POST" | "DELETE", path: string, token?: string, body?: unknown): Promise<Answer> {
  const response = await pool.request({
    method,
    path,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...(method !== "GET" ? { "idempotency-key": randomBytes(12).toString("hex") } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: text ? JSON.parse(text) : undefined };
}

function expect(answer: Answer, status: number, what: string): Answer {
  if (answer.status !== status) throw new Error(`${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer;
}

interface Holding { groupId: string; fileName: string; sha1: string; piecesHeld: number }
interface Client {
  index: number;
  userId: string;
  tracker: number;
  pool: Pool;
  token: string;
  groupId: string;
  peerAddress: string;
  /** What its agent announces: keyed by file name (all in its one group). */
  holdings: Map<string, Holding>;
  /** Files being downloaded and not announced yet. */
  downloading: Set<string>;
  /** Between a logout and the next login (asked for or under way). */
  relogging: boolean;
  /** When the last login of the run was answered (0 before). */
  loggedInAt: number;
  /** The agent's announces, one at a time (a logout waits for them, as PeerNode goes offline first). */
  agent: Promise<void>;
}

function seedShare(userId: string) {
  const fileName = `seed-${userId}.bin`;
  const pieceHashes = Array.from({ length: SEED_PIECES }, (_, i) => sha1(`${fileName}#${i}`));
  return { fileName, size: SEED_PIECES * PIECE_SIZE, sha1: sha1(fileName), pieceSize: PIECE_SIZE, pieceHashes };
}

// --- setup (not timed): users, groups, memberships, one 32-piece file shared by each user ---
process.stdout.write(`setting up ${CLIENTS} users in ${GROUPS} groups on 2 trackers…\n`);
const clients: Client[] = [];
for (let i = 0; i < CLIENTS; i++) {
  const userId = `u${i}-${runId}`;
  const tracker = i % 2;
  const peerAddress = `127.0.0.1:${20000 + i}`;
  expect(await call(setupPools[tracker]!, "POST", "/users", undefined, { userId, password: "pw" }), 201, "create user");
  const login = expect(await call(setupPools[tracker]!, "POST", "/sessions", undefined, { userId, password: "pw", peerAddress }), 201, "login");
  clients.push({
    index: i, userId, tracker, pool: new Pool(cluster.trackers[tracker]!.url, { connections: 2 }),
    token: (login.body as { token: string }).token, groupId: `g${i % GROUPS}-${runId}`, peerAddress, holdings: new Map(), relogging: false, loggedInAt: 0, downloading: new Set(), agent: Promise.resolve(),
  });
}
for (const owner of clients.slice(0, GROUPS)) {
  expect(await call(setupPools[owner.tracker]!, "POST", "/groups", owner.token, { groupId: owner.groupId }), 201, "create group");
}
for (const client of clients.slice(GROUPS)) {
  const owner = clients[client.index % GROUPS]!;
  expect(await call(setupPools[client.tracker]!, "POST", `/groups/${client.groupId}/join-requests`, client.token), 201, "join");
  expect(await call(setupPools[owner.tracker]!, "POST", `/groups/${client.groupId}/join-requests/${client.userId}/accept`, owner.token), 200, "accept");
}
for (const client of clients) {
  const share = seedShare(client.userId);
  expect(await call(setupPools[client.tracker]!, "POST", `/groups/${client.groupId}/files`, client.token, share), 201, "seed share");
  client.holdings.set(share.fileName, { groupId: client.groupId, fileName: share.fileName, sha1: share.sha1, piecesHeld: SEED_PIECES });
}
// Each agent announces what it holds right after its login, as PeerNode does.
await Promise.all(clients.map(async (c) => {
  const holdings = [...c.holdings.values()];
  expect(await call(c.pool, "POST", "/peers/announce", c.token, { peerAddress: c.peerAddress, holdings }), 200, "first announce");
}));
await converged(cluster, 60_000);
const membersOf = (groupId: string) => clients.filter((c) => c.groupId === groupId);

// --- the timed run ---
interface Sample { type: string; scheduled: number; latency: number }
const samples: Sample[] = [];
const errors: string[] = [];
const errorsByType = new Map<string, number>();
let scheduledInWindow = 0;
const sharedFiles: { groupId: string; fileName: string }[] = [];
const createdGroups: string[] = [];
const completedDownloads: { client: Client; fileName: string }[] = [];
const endedTokens: string[] = [];

/** Runs one operation scheduled at `scheduled`; its latency counts from then. */
async function timed(type: string, scheduled: number, work: () => Promise<void>): Promise<boolean> {
  try {
    await work();
    samples.push({ type, scheduled, latency: performance.now() - scheduled });
    return true;
  } catch (error) {
    errors.push(`${type}: ${(error as Error).message}`);
    errorsByType.set(type, (errorsByType.get(type) ?? 0) + 1);
    return false;
  }
}

/** The agent's announce: every holding it has, as PeerNode sends them. */
/**
 * The agent's announce: every holding it has. One at a time per agent, each
 * with the holdings as they are when it is sent. (PeerNode sends its heartbeat
 * and its progress reports independently: two in flight can be taken in the
 * other order, and the older report then overwrites the newer one until the
 * next heartbeat, e.g. a complete download shown as partial for up to 15 s.
 * Here that would count as a lost write.)
 */
function announce(client: Client, type: string, scheduled: number): Promise<void> {
  const turn = client.agent.then(async () => {
    // Due while its user was logged out: the agent announces right after the login.
    await timed(type, Math.max(scheduled, client.loggedInAt), async () => {
      const holdings = [...client.holdings.values()];
      const answer = expect(await call(client.pool, "POST", "/peers/announce", client.token, { peerAddress: client.peerAddress, holdings }), 200, type);
      const rejected = (answer.body as { rejected: unknown[] }).rejected;
      if (rejected.length > 0) throw new Error(`${type}: rejected ${JSON.stringify(rejected)}`);
    });
  });
  client.agent = turn;
  return turn;
}

let deadline = Infinity;

async function heartbeats(client: Client, start: number): Promise<void> {
  for (let due = start + Math.random() * HEARTBEAT_MS; due < deadline; due += HEARTBEAT_MS) {
    await sleepUntil(due);
    scheduledInWindow++;
    await announce(client, "heartbeat", due);
  }
}

/** The agent of a downloading user: progress every PROGRESS_MS, then the file complete. */
async function downloadProgress(client: Client, fileName: string, sha: string, begun: number): Promise<void> {
  const steps = Math.max(1, Math.round(exponential(DOWNLOAD_MS) / PROGRESS_MS));
  const holding: Holding = { groupId: client.groupId, fileName, sha1: sha, piecesHeld: 0 };
  for (let step = 1; step <= steps; step++) {
    const due = begun + step * PROGRESS_MS;
    if (due >= deadline) return;
    await sleepUntil(due);
    scheduledInWindow++;
    holding.piecesHeld = Math.max(1, Math.floor((SEED_PIECES * step) / steps));
    client.downloading.delete(fileName);
    client.holdings.set(fileName, holding);
    await announce(client, "progress", due);
  }
  completedDownloads.push({ client, fileName });
}

const downloads: Promise<void>[] = [];

const commands: [weight: number, run: (client: Client, n: number, scheduled: number) => Promise<unknown>][] = [
  [25, (c, _n, s) => timed("list_files", s, async () => void expect(await call(c.pool, "GET", `/groups/${c.groupId}/files`, c.token), 200, "list files"))],
  [10, (c, n, s) => download(c, n, s)],
  [10, (c, n, s) => timed("upload_file", s, async () => {
    const fileName = `f-${c.userId}-${n}.bin`;
    const share = { fileName, size: 1, sha1: sha1(fileName), pieceSize: PIECE_SIZE, pieceHashes: [sha1(fileName)] };
    expect(await call(c.pool, "POST", `/groups/${c.groupId}/files`, c.token, share), 201, "share");
    c.holdings.set(fileName, { groupId: c.groupId, fileName, sha1: share.sha1, piecesHeld: 1 });
    sharedFiles.push({ groupId: c.groupId, fileName });
  })],
  [15, (c, _n, s) => timed("list_groups", s, async () => void expect(await call(c.pool, "GET", "/groups", c.token), 200, "list groups"))],
  [10, (c, _n, s) => timed("members", s, async () => void expect(await call(c.pool, "GET", `/groups/${c.groupId}/members`, c.token), 200, "members"))],
  // Only an owner may list requests; the other users list the groups instead.
  [8, (c, _n, s) => c.index < GROUPS
    ? timed("list_requests", s, async () => void expect(await call(c.pool, "GET", `/groups/${c.groupId}/join-requests`, c.token), 200, "list requests"))
    : timed("list_groups", s, async () => void expect(await call(c.pool, "GET", "/groups", c.token), 200, "list groups"))],
  [5, (c, n, s) => timed("create_group", s, async () => {
    const groupId = `x-${c.userId}-${n}`;
    expect(await call(c.pool, "POST", "/groups", c.token, { groupId }), 201, "create group");
    createdGroups.push(groupId);
  })],
  [15, (c, _n, s) => timed("peers", s, async () => {
    const other = pick(membersOf(c.groupId).filter((m) => m !== c));
    expect(await call(c.pool, "GET", `/groups/${c.groupId}/files/seed-${other.userId}.bin/peers`, c.token), 200, "peers");
  })],
  [2, (c, _n, s) => relogin(c, s)],
];
const totalWeight = commands.reduce((sum, [weight]) => sum + weight, 0);

/** download_file: the peers of another member's file, then the agent's progress announces. */
async function download(client: Client, _n: number, scheduled: number): Promise<void> {
  // Files of members who are logged in (between a logout and a login a file of one holder has no peer).
  const candidates = membersOf(client.groupId).filter((m) => m !== client && !m.relogging
    && !client.holdings.has(seedShare(m.userId).fileName) && !client.downloading.has(seedShare(m.userId).fileName));
  if (candidates.length === 0) return void (await timed("list_files", scheduled, async () => void expect(await call(client.pool, "GET", `/groups/${client.groupId}/files`, client.token), 200, "list files")));
  const { fileName, sha1: sha } = seedShare(pick(candidates).userId);
  client.downloading.add(fileName);
  const ok = await timed("download_file", scheduled, async () => {
    const answer = expect(await call(client.pool, "GET", `/groups/${client.groupId}/files/${fileName}/peers`, client.token), 200, "peers");
    if ((answer.body as { peers: unknown[] }).peers.length === 0) throw new Error(`download ${fileName}: no peer online`);
  });
  if (ok) downloads.push(downloadProgress(client, fileName, sha, performance.now()));
}

/**
 * logout, then login again: taking the agent's turn, so that it announces
 * nothing in between (the announces due meanwhile go right after the login).
 */
function relogin(client: Client, scheduled: number): Promise<void> {
  client.relogging = true;
  const turn = client.agent.then(() => logoutAndLogin(client, scheduled)).finally(() => (client.relogging = false));
  client.agent = turn;
  return turn;
}

async function logoutAndLogin(client: Client, scheduled: number): Promise<void> {
  const old = client.token;
  if (!(await timed("logout", scheduled, async () => void expect(await call(client.pool, "DELETE", "/sessions/current", old), 204, "logout")))) return;
  endedTokens.push(old);
  const loginAt = performance.now();
  scheduledInWindow++;
  await timed("login", loginAt, async () => {
    const answer = expect(await call(client.pool, "POST", "/sessions", undefined, { userId: client.userId, password: "pw", peerAddress: client.peerAddress }), 201, "login");
    client.token = (answer.body as { token: string }).token;
  });
  client.loggedInAt = performance.now();
}

async function user(client: Client, start: number): Promise<void> {
  let due = OPEN_LOOP ? start + exponential(THINK_MS) : start;
  for (let n = 0; due < deadline; n++) {
    await sleepUntil(due);
    scheduledInWindow++;
    const scheduled = OPEN_LOOP ? due : performance.now();
    let roll = Math.random() * totalWeight;
    const [, run] = commands.find(([weight]) => (roll -= weight) < 0) ?? commands[0]!;
    await run(client, n, scheduled);
    due = OPEN_LOOP ? due + exponential(THINK_MS) : performance.now();
  }
}

process.stdout.write(
  `running ${CLIENTS} users for ${SECONDS} s: ${OPEN_LOOP ? `think time mean ${THINK_MS} ms (open loop)` : "no think time (closed loop, saturation)"}, ` +
  `heartbeat every ${HEARTBEAT_MS} ms, download progress every ${PROGRESS_MS} ms for ${DOWNLOAD_MS / 1000} s on average…\n`,
);
/** CPU seconds a process used so far (user + system), from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}
const trackerCpuBefore = cluster.trackers.map((t) => cpuSeconds(t.child?.pid));
const benchCpuBefore = process.cpuUsage();
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const started = performance.now();
deadline = started + SECONDS * 1000;
await Promise.all(clients.flatMap((client) => [user(client, started), heartbeats(client, started)]));
await Promise.all(downloads);
const elapsed = (performance.now() - started) / 1000;
loopDelay.disable();
const trackerCpu = cluster.trackers.map((t, i) => (cpuSeconds(t.child?.pid) - trackerCpuBefore[i]!) / elapsed);
const benchCpuUsage = process.cpuUsage(benchCpuBefore);
const benchCpu = (benchCpuUsage.user + benchCpuUsage.system) / 1e6 / elapsed;

// --- nothing lost: every acknowledged write is on both trackers ---
// Both trackers caught up with equal state digests (or, after 2 minutes, the two that differ).
await converged(cluster, 120_000).catch(() => undefined);
const digests = await Promise.all(cluster.trackers.map((t) => digest(t.url)));
let lost = 0;
const lostKinds = new Map<string, number>();
const missing = (kind: string, count: number) => {
  lost += count;
  if (count > 0) lostKinds.set(kind, (lostKinds.get(kind) ?? 0) + count);
};
for (const tracker of [0, 1]) {
  const pool = setupPools[tracker]!;
  const asMember = (groupId: string) => clients.find((c) => c.groupId === groupId)!.token;
  const groups = new Set((await everyItem<{ groupId: string }>(pool, "/groups", clients[0]!.token)).map((g) => g.groupId));
  missing("group", createdGroups.filter((g) => !groups.has(g)).length);
  for (const owner of clients.slice(0, GROUPS)) {
    const files = await everyItem<{ fileName: string }>(pool, `/groups/${owner.groupId}/files`, asMember(owner.groupId));
    const names = new Set(files.map((f) => f.fileName));
    missing("share", sharedFiles.filter((f) => f.groupId === owner.groupId && !names.has(f.fileName)).length);
  }
  for (const { client, fileName } of completedDownloads) {
    const other = membersOf(client.groupId).find((m) => m !== client)!;
    const answer = expect(await call(pool, "GET", `/groups/${client.groupId}/files/${fileName}/peers`, other.token), 200, "check peers").body as { peers: { userId: string; complete: boolean }[] };
    missing("download", answer.peers.some((p) => p.userId === client.userId && p.complete) ? 0 : 1);
  }
  for (const client of clients) missing("login", (await call(pool, "GET", "/groups", client.token)).status === 200 ? 0 : 1);
  for (const token of endedTokens) missing("logout", (await call(pool, "GET", "/groups", token)).status === 401 ? 0 : 1);
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const ms = (value: number) => Number(value.toFixed(1));
const all = samples.map((s) => s.latency).sort((a, b) => a - b);
const types = [...new Set(samples.map((s) => s.type))].sort();
const completed = samples.length + errors.length;
const result = {
  clients: CLIENTS,
  mode: OPEN_LOOP ? `open loop, think ${THINK_MS} ms` : "closed loop (saturation)",
  seconds: ms(elapsed),
  operations: completed,
  offeredPerSecond: OPEN_LOOP ? Math.round(scheduledInWindow / SECONDS) : "closed loop",
  achievedPerSecond: Math.round(completed / elapsed),
  p50Ms: ms(pct(all, 50)),
  p99Ms: ms(pct(all, 99)),
  maxMs: ms(all.at(-1) ?? NaN),
  errors: errors.length,
  acknowledgedWrites: sharedFiles.length + createdGroups.length + completedDownloads.length + clients.length + endedTokens.length,
  lostWrites: lost,
  digestsEqual: digests[0] === digests[1],
  digests: digests.map((d) => d.slice(0, 16)),
  /** Cores busy during the run (of the machine's, shared by the trackers and this process). */
  cpuCoresUsed: { trackers: trackerCpu.map((c) => Number(c.toFixed(2))), bench: Number(benchCpu.toFixed(2)) },
  benchEventLoopDelayP99Ms: ms(loopDelay.percentile(99) / 1e6),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`${"operation".padEnd(14)}${"count".padStart(8)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"max ms".padStart(9)}${"errors".padStart(8)}\n`);
for (const type of types) {
  const sorted = samples.filter((s) => s.type === type).map((s) => s.latency).sort((a, b) => a - b);
  process.stdout.write(`${type.padEnd(14)}${String(sorted.length).padStart(8)}${pct(sorted, 50).toFixed(1).padStart(9)}${pct(sorted, 99).toFixed(1).padStart(9)}${sorted.at(-1)!.toFixed(1).padStart(9)}${String(errorsByType.get(type) ?? 0).padStart(8)}\n`);
}
if (values.timeline) {
  process.stdout.write("second  count  p50 ms  p99 ms\n");
  for (let second = 0; second < Math.ceil(elapsed); second++) {
    const sorted = samples.filter((s) => Math.floor((s.scheduled - started) / 1000) === second).map((s) => s.latency).sort((a, b) => a - b);
    if (sorted.length > 0) process.stdout.write(`${String(second).padStart(6)}${String(sorted.length).padStart(7)}${pct(sorted, 50).toFixed(1).padStart(8)}${pct(sorted, 99).toFixed(1).padStart(8)}\n`);
  }
}
if (lost > 0) process.stdout.write(`lost: ${JSON.stringify(Object.fromEntries(lostKinds))}\n`);
if (errors.length > 0) process.stdout.write(`first errors:\n  ${[...new Set(errors)].slice(0, 5).join("\n  ")}\n`);
process.stdout.write(`goal: 0 errors, 0 lost writes, equal digests, p99 < 100 ms -> ${errors.length === 0 && lost === 0 && result.digestsEqual && result.p99Ms < 100 ? "met" : "NOT met"}\n`);
await Promise.all([...setupPools, ...clients.map((c) => c.pool)].map((pool) => pool.close()));
// SIGTERM, so that trackers run with NODE_OPTIONS=--cpu-prof write their profiles.
await Promise.all(cluster.trackers.map((t) => {
  const exited = t.child && t.child.exitCode === null ? once(t.child, "exit") : undefined;
  t.child?.kill("SIGTERM");
  return exited;
}));
await cluster.stop();
