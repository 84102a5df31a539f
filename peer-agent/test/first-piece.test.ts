/**
 * A download's fixed cost (issue 12): from the download_file command to its
 * first verified piece, on loopback, with real agent processes serving TLS
 * with pinned certificates (the default) and a real tracker. Each round logs
 * the downloader in again, so every round is a new session whose grant the
 * seeders have never seen, as for a user's first download.
 *
 * The median of 5 rounds must be within 250 ms (the goal is 50 ms on an idle
 * machine). On a shared 2-core machine at load 17–24 these changes took
 * 106–226 ms there, the code before them 390–496 ms. Where the machine is so
 * loaded that even a bare client is slow, 1.5 times the bare client's median
 * passes too (the code before: 2.9–4.2 times; now 0.5–2.2): measured in the
 * same run, alternating with ours, it asks the tracker for the peers and a
 * grant, connects to a seeder over TLS checking its pinned certificate,
 * fetches one piece, checks its SHA1 and writes it.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { parseTrackerInfo } from "../../core/tracker-info.js";
import { TrackerClient } from "../../core/tracker-client.js";
import { dispatchGet } from "../src/download/dispatched-response.js";
import { reusedBufferConnector } from "../src/download/reused-buffer-connector.js";
import { openDatabase } from "../../tracker-api/src/db/open.js";
import { loadGrantKey } from "../../tracker-api/src/grant-key.js";
import { createApp } from "../../tracker-api/src/http/app.js";
import { createTracker } from "../../tracker-api/src/tracker.js";
import type { RemotePeerNode } from "../src/control/client.js";
import { AgentProcesses } from "./support/agent-processes.js";

/** See above; docs/performance.md, "Fixed cost per download". */
const FIRST_PIECE_WITHIN_MS = 250;
const OR_AT_MOST_TIMES_BARE = 1.5;
const ROUNDS = 5;
/** A file of some size: its download checks the disk's free space while the first pieces come (disk-space.ts). */
const SIZE = 64 * 1024 * 1024;
const GROUP = "films";
const FILE = "film.bin";

let dir: string;
let tracker: Server;
let closeDb: () => Promise<void>;
let agents: AgentProcesses;

async function startAgent(name: string, trackerInfo: string): Promise<RemotePeerNode> {
  const { api } = await agents.start(name, trackerInfo);
  await api.createUser(name, "pw");
  await api.login(name, "pw");
  return api;
}

let seeders: RemotePeerNode[];
let downloader: RemotePeerNode;
let trackerInfoText: string;

/**
 * What any client must do for a first piece, in ms: the peer list and grant from the tracker, a
 * TLS connection to the first seeder with its pinned certificate, one piece by Range, its SHA1
 * checked, written to a file. A fresh session each time, like ours.
 */
async function bareFirstPiece(round: number): Promise<number> {
  const client = new TrackerClient(parseTrackerInfo(trackerInfoText));
  await client.login({ userId: "erin", password: "pw", peerAddress: "127.0.0.1:9" });
  const path = join(dir, `bare-${round}.bin`);
  const started = performance.now();
  const list = await client.getPeers(GROUP, FILE);
  const seeder = list.peers[0]!;
  const pool = new Pool(`https://${seeder.address}`, { connect: reusedBufferConnector({ timeoutMs: 3000, pin: seeder.certSha256! }) });
  try {
    const response = await dispatchGet(pool, {
      path: `/groups/${GROUP}/files/${list.file.sha1}`,
      headers: { authorization: `Bearer ${list.grant}`, range: `bytes=0-${list.file.pieceSize - 1}` },
      headersTimeout: 5000,
      bodyTimeout: 5000,
    });
    assert.equal(response.statusCode, 206);
    // Each chunk lives in the connection's reused read memory only while it is emitted: copied at once, as the agent does.
    const chunks: Buffer[] = [];
    await new Promise((resolve, reject) => {
      response.body.on("data", (chunk: Buffer) => chunks.push(Buffer.from(chunk)));
      response.body.on("end", resolve);
      response.body.on("error", reject);
    });
    const piece = Buffer.concat(chunks);
    assert.equal(createHash("sha1").update(piece).digest("hex"), list.file.pieceHashes[0]);
    await writeFile(path, piece);
    return performance.now() - started;
  } finally {
    await pool.destroy();
    await client.logout().catch(() => undefined);
    await rm(path, { force: true });
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "first-piece-"));
  agents = new AgentProcesses(dir);
  const db = await openDatabase(join(dir, "tracker.db"));
  closeDb = () => db.$disconnect();
  tracker = createApp(createTracker({ db, id: "tracker-1", grantKey: await loadGrantKey("tracker-1", dir) })).listen(0, "127.0.0.1");
  await once(tracker, "listening");
  const trackerInfo = join(dir, "tracker_info.txt");
  trackerInfoText = `127.0.0.1:${(tracker.address() as AddressInfo).port}\n`;
  await writeFile(trackerInfo, trackerInfoText);
  [seeders, downloader] = await Promise.all([
    Promise.all(["alice", "bob"].map((name) => startAgent(name, trackerInfo))),
    startAgent("dave", trackerInfo),
  ]);
  await seeders[0]!.createGroup(GROUP);
  for (const [name, member] of [["bob", seeders[1]!], ["dave", downloader]] as const) {
    await member.joinGroup(GROUP);
    await seeders[0]!.acceptRequest(GROUP, name);
  }
  const bare = new TrackerClient(parseTrackerInfo(trackerInfoText));
  await bare.createUser({ userId: "erin", password: "pw" });
  await bare.login({ userId: "erin", password: "pw", peerAddress: "127.0.0.1:9" });
  await bare.requestJoin(GROUP);
  await seeders[0]!.acceptRequest(GROUP, "erin");
  await bare.logout();
  const source = join(dir, FILE);
  await writeFile(source, randomBytes(SIZE));
  await Promise.all(seeders.map((seeder) => seeder.uploadFile(source, GROUP)));
});

after(async () => {
  await agents?.stopAll();
  tracker?.closeAllConnections();
  await new Promise((done) => tracker?.close(done));
  await closeDb?.();
  await rm(dir, { recursive: true, force: true });
});

test(`the first piece is verified within ${FIRST_PIECE_WITHIN_MS} ms of download_file (median), on loopback over TLS, with a grant the seeders have not seen`, async (t) => {
  const ours: { firstPieceMs?: number; startup?: Record<string, number> }[] = [];
  const bare: number[] = [];
  await bareFirstPiece(-1); // warms the test process's own code, as the agents' is by their start
  for (let round = 0; round < ROUNDS; round++) {
    bare.push(await bareFirstPiece(round));
    await downloader.logout();
    await downloader.login("dave", "pw");
    const destination = join(dir, `copy-${round}.bin`);
    const started = await downloader.downloadFile(GROUP, FILE, destination);
    const ended = await downloader.waitForDownload(started.id);
    assert.equal(ended.state, "complete", ended.error?.message);
    ours.push({ firstPieceMs: ended.summary?.firstPieceMs, startup: ended.summary?.startup });
    await downloader.stopShare(GROUP, FILE);
    await rm(destination, { force: true });
  }
  const ourMedian = median(ours.map((r) => r.firstPieceMs ?? Infinity));
  const bareMedian = median(bare);
  const report =
    `first piece after ${ours.map((r) => r.firstPieceMs).join(", ")} ms, the bare client's after ${bare.map(Math.round).join(", ")} ms ` +
    `(medians ${ourMedian} and ${Math.round(bareMedian)} ms: ${(ourMedian / bareMedian).toFixed(2)} times); steps ${JSON.stringify(ours.map((r) => r.startup))}`;
  t.diagnostic(report);
  assert.ok(ourMedian <= FIRST_PIECE_WITHIN_MS || ourMedian <= OR_AT_MOST_TIMES_BARE * bareMedian, report);
});

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
