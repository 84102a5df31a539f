import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bitfield } from "../../core/bitfield.js";
import { hashFile, PIECE_SIZE } from "../../core/pieces.js";
import type { FileMetadata } from "../../core/api-types.js";
import { Download } from "../src/download/engine.js";
import { createPeerServer } from "../src/http/server.js";
import { ServedRegistry } from "../src/served-registry.js";
import { slowLink } from "./support/slow-link.js";
import { onDisk } from "./support/seeders.js";

const dir = await mkdtemp(join(tmpdir(), "sequential-download-"));
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
  await rm(dir, { recursive: true, force: true });
});

const PIECES = 64;
const WINDOW = 8;
const data = randomBytes(PIECES * PIECE_SIZE);
const sourcePath = join(dir, "film.mkv");
await writeFile(sourcePath, data);
const digest = await hashFile(sourcePath);
const file: FileMetadata = { groupId: "movies", fileName: "film.mkv", ...digest };

/** Three seeders, each behind its own 8 MB/s uplink: the download takes ~1.4 s, long enough to see its order. */
async function seeders() {
  const addresses: string[] = [];
  for (let i = 0; i < 3; i++) {
    const registry = new ServedRegistry();
    registry.add({ userId: `seeder${i}`, file, path: sourcePath, verified: Bitfield.full(PIECES).toBase64(), ...onDisk(sourcePath) });
    const server: Server = createPeerServer({ files: registry, checkGrant: async () => "viewer" });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const link = await slowLink(`127.0.0.1:${(server.address() as AddressInfo).port}`, 8_000_000);
    closers.push(async () => {
      await link.close();
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    });
    addresses.push(link.address);
  }
  return addresses.map((address, i) => ({ userId: `seeder${i}`, address, piecesHeld: PIECES, complete: true }));
}

async function download(name: string, sequential: boolean) {
  const finalPath = join(dir, name);
  const order: number[] = [];
  const have = new Bitfield(PIECES);
  let prefix = 0;
  let tenthAt = 0;
  const started = performance.now();
  const summary = await new Download({
    groupId: file.groupId, file, grant: "g", partPath: `${finalPath}.part`, finalPath,
    peers: await seeders(),
    sequential,
    random: seededRandom(7),
    picker: { sequentialWindow: WINDOW },
    onPieceVerified: (piece) => {
      order.push(piece);
      have.set(piece);
      while (prefix < PIECES && have.has(prefix)) prefix++;
      if (!tenthAt && prefix >= PIECES / 10) tenthAt = performance.now() - started;
    },
  }).run();
  assert.equal(createHash("sha1").update(await readFile(finalPath)).digest("hex"), digest.sha1);
  return { order, summary, tenthAt, totalMs: performance.now() - started };
}

/** A fixed random sequence, so which first pieces a normal download picks does not vary between runs. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** How far each verified piece ran ahead of the pieces verified before it: a player needs this to stay small. */
function furthestAhead(order: number[]): number {
  return Math.max(...order.map((piece, i) => piece - i));
}

test("a sequential download fills the file from its start while every peer keeps sending", async (t) => {
  const { order, summary, tenthAt, totalMs } = await download("sequential.mkv", true);
  t.diagnostic(`first tenth whole after ${tenthAt.toFixed(0)} ms of ${totalMs.toFixed(0)} ms`);
  // Runs may reach past the window by a run's length; never far into the file.
  assert.ok(furthestAhead(order) <= WINDOW * 2, `a piece ${furthestAhead(order)} places ahead of the verified count arrived: ${order.join(",")}`);
  assert.ok(tenthAt <= totalMs * 0.5, `the first tenth was whole after ${tenthAt.toFixed(0)} ms of ${totalMs.toFixed(0)} ms`);
  for (const peer of summary.perPeer) assert.ok(peer.bytes > 0, `${peer.userId} sent nothing`);
});

test("a download that is not sequential starts with random pieces from anywhere in the file", async (t) => {
  const { order, tenthAt, totalMs } = await download("normal.mkv", false);
  t.diagnostic(`first tenth whole after ${tenthAt.toFixed(0)} ms of ${totalMs.toFixed(0)} ms`);
  // The guard of the test above: without the sequential flag the order is not a playhead's.
  assert.ok(furthestAhead(order) > WINDOW * 2, `pieces came in file order: ${order.join(",")}`);
});
