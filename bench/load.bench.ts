/**
 * `npm run bench:load [-- --clients 200 --seconds 30]`: simulated clients
 * against two synchronized tracker processes on loopback — heartbeats, file
 * listings, peer look-ups, shares, new groups and logins — then a check that
 * every acknowledged write is on both trackers and that their digests agree.
 * Goal: zero errors, zero lost writes, p99 < 100 ms.
 */
import { createHash, randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Pool } from "undici";
import { Cluster, converged } from "../tracker-api/test/replication/cluster.js";

const { values } = parseArgs({
  options: { clients: { type: "string", default: "200" }, seconds: { type: "string", default: "30" }, groups: { type: "string", default: "20" } },
});
const CLIENTS = Number(values.clients);
const SECONDS = Number(values.seconds);
const GROUPS = Number(values.groups);

interface Answer {
  status: number;
  body: unknown;
}

const cluster = await Cluster.start(2);
const pools = cluster.trackers.map((t) => new Pool(t.url, { connections: 64 }));

/** Every item of a paged list, following nextCursor. */
async function everyItem<T>(tracker: number, path: string, token: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const answer = await call(tracker, "GET", `${path}?limit=1000${cursor ? `&cursor=${cursor}` : ""}`, token);
    if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status}`);
    items.push(...(answer.body as { items: T[] }).items);
    cursor = (answer.body as { nextCursor: string | null }).nextCursor;
  } while (cursor);
  return items;
}

async function call(tracker: number, method: "GET" | "POST", path: string, token?: string, body?: unknown): Promise<Answer> {
  const response = await pools[tracker]!.request({
    method,
    path,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...(method === "POST" ? { "idempotency-key": randomBytes(12).toString("hex") } : {}),
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

const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");
const runId = randomBytes(3).toString("hex");

// --- setup (not timed): users, groups, memberships ---
process.stdout.write(`setting up ${CLIENTS} users in ${GROUPS} groups on 2 trackers…\n`);
interface Client { userId: string; tracker: number; token: string; groupId: string }
const clients: Client[] = [];
for (let i = 0; i < CLIENTS; i++) {
  const userId = `u${i}-${runId}`;
  const tracker = i % 2;
  expect(await call(tracker, "POST", "/users", undefined, { userId, password: "pw" }), 201, "create user");
  const login = expect(await call(tracker, "POST", "/sessions", undefined, { userId, password: "pw", peerAddress: `127.0.0.1:${20000 + i}` }), 201, "login");
  clients.push({ userId, tracker, token: (login.body as { token: string }).token, groupId: `g${i % GROUPS}-${runId}` });
}
for (let g = 0; g < GROUPS; g++) {
  const owner = clients[g]!;
  expect(await call(owner.tracker, "POST", "/groups", owner.token, { groupId: owner.groupId }), 201, "create group");
}
for (const client of clients.slice(GROUPS)) {
  const owner = clients[Number(client.groupId.slice(1).split("-")[0])]!;
  expect(await call(client.tracker, "POST", `/groups/${client.groupId}/join-requests`, client.token), 201, "join");
  expect(await call(owner.tracker, "POST", `/groups/${client.groupId}/join-requests/${client.userId}/accept`, owner.token), 200, "accept");
}
for (const client of clients) {
  const fileName = `seed-${client.userId}.bin`;
  expect(await call(client.tracker, "POST", `/groups/${client.groupId}/files`, client.token, { fileName, size: 1, sha1: sha1(fileName), pieceSize: 524288, pieceHashes: [sha1(fileName)] }), 201, "seed share");
}
await converged(cluster, 60_000);

// --- the timed run ---
const latencies: number[] = [];
const errors: string[] = [];
const sharedFiles: { groupId: string; fileName: string }[] = [];
const createdGroups: string[] = [];
let operations = 0;
const deadline = performance.now() + SECONDS * 1000;

async function act(client: Client, n: number): Promise<void> {
  const roll = Math.random();
  if (roll < 0.35) {
    expect(await call(client.tracker, "POST", "/peers/announce", client.token, { holdings: [] }), 200, "announce");
  } else if (roll < 0.6) {
    expect(await call(client.tracker, "GET", `/groups/${client.groupId}/files`, client.token), 200, "list files");
  } else if (roll < 0.75) {
    expect(await call(client.tracker, "GET", `/groups/${client.groupId}/files/seed-${client.userId}.bin/peers`, client.token), 200, "peers");
  } else if (roll < 0.9) {
    const fileName = `f-${client.userId}-${n}.bin`;
    expect(await call(client.tracker, "POST", `/groups/${client.groupId}/files`, client.token, { fileName, size: 1, sha1: sha1(fileName), pieceSize: 524288, pieceHashes: [sha1(fileName)] }), 201, "share");
    sharedFiles.push({ groupId: client.groupId, fileName });
  } else if (roll < 0.95) {
    const groupId = `x-${client.userId}-${n}`;
    expect(await call(client.tracker, "POST", "/groups", client.token, { groupId }), 201, "create group");
    createdGroups.push(groupId);
  } else {
    expect(await call(client.tracker, "GET", `/groups/${client.groupId}/members`, client.token), 200, "members");
  }
}

process.stdout.write(`running ${CLIENTS} clients for ${SECONDS} s…\n`);
const started = performance.now();
await Promise.all(
  clients.map(async (client) => {
    for (let n = 0; performance.now() < deadline; n++) {
      const t0 = performance.now();
      try {
        await act(client, n);
        latencies.push(performance.now() - t0);
      } catch (error) {
        errors.push((error as Error).message);
      }
      operations++;
    }
  }),
);
const elapsed = (performance.now() - started) / 1000;

// --- nothing lost: every acknowledged write is on both trackers ---
const digest = await converged(cluster, 120_000);
let lost = 0;
for (const tracker of [0, 1]) {
  const anyToken = clients.find((c) => c.tracker === tracker)!.token;
  const groups = new Set((await everyItem<{ groupId: string }>(tracker, "/groups", anyToken)).map((g) => g.groupId));
  lost += createdGroups.filter((g) => !groups.has(g)).length;
  const byGroup = new Map<string, Set<string>>();
  for (const client of clients.slice(0, GROUPS)) {
    const files = await everyItem<{ fileName: string }>(tracker, `/groups/${client.groupId}/files`, clients.find((c) => c.tracker === tracker && c.groupId === client.groupId)?.token ?? client.token);
    byGroup.set(client.groupId, new Set(files.map((f) => f.fileName)));
  }
  lost += sharedFiles.filter((f) => !byGroup.get(f.groupId)?.has(f.fileName)).length;
}

latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
const result = {
  clients: CLIENTS,
  seconds: Number(elapsed.toFixed(1)),
  operations,
  throughputPerSecond: Math.round(operations / elapsed),
  p50Ms: Number(pct(50).toFixed(1)),
  p99Ms: Number(pct(99).toFixed(1)),
  errors: errors.length,
  acknowledgedWrites: sharedFiles.length + createdGroups.length,
  lostWrites: lost,
  digestsEqual: Boolean(digest),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
if (errors.length > 0) process.stdout.write(`first errors:\n  ${[...new Set(errors)].slice(0, 5).join("\n  ")}\n`);
process.stdout.write(`goal: 0 errors, 0 lost writes, p99 < 100 ms -> ${errors.length === 0 && lost === 0 && result.p99Ms < 100 ? "met" : "NOT met"}\n`);
await Promise.all(pools.map((pool) => pool.close()));
await cluster.stop();
