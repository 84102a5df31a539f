import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer as createTcpServer, type Socket } from "node:net";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bitfield } from "../../core/bitfield.js";
import { hashFile, PIECE_SIZE } from "../../core/pieces.js";
import type { FileMetadata } from "../../core/api-types.js";
import { Download } from "../src/download/engine.js";
import { createPeerServer } from "../src/http/server.js";
import { SwarmEvents } from "../src/http/swarm-events.js";
import { ServedRegistry } from "../src/served-registry.js";
import { slowLink } from "./support/slow-link.js";
import { onDisk } from "./support/seeders.js";

const dir = await mkdtemp(join(tmpdir(), "swarm-download-"));
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
  await rm(dir, { recursive: true, force: true });
});

const PIECES = 32;
const data = randomBytes(PIECES * PIECE_SIZE);
const sourcePath = join(dir, "lecture.mp4");
await writeFile(sourcePath, data);
const digest = await hashFile(sourcePath);
const file: FileMetadata = { groupId: "class", fileName: "lecture.mp4", ...digest };
/** Each downloader's grant is its name: the agents tell them apart as they would tell users apart. */
const grantNamesRequester = async (token: string | undefined) => token ?? "anonymous";

/** A real piece server for one agent, with its own event hub: what a PeerNode runs. */
async function agentServer(path: string, verified: Bitfield) {
  const events = new SwarmEvents();
  const registry = new ServedRegistry(events);
  // A seeder shares the file as hashed; a downloader serves the .part file of its download as it fills.
  const share = verified.complete
    ? onDisk(path)
    : { checkedSize: 0, checkedMtimeMs: 0, download: { id: path, destination: path.replace(/\.part$/, ""), startedAt: new Date().toISOString(), state: "downloading" as const } };
  const served = registry.add({ userId: "me", file, path, verified: verified.toBase64(), ...share });
  const server: Server = createPeerServer({ files: registry, events, checkGrant: grantNamesRequester });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  closers.push(async () => {
    events.close();
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, registry, served };
}

test("downloaders that start together behind a slow seeder find each other through it and take most pieces from each other", async () => {
  const seeder = await agentServer(sourcePath, Bitfield.full(PIECES));
  // 16 MiB through 6 MB/s: one copy takes ~2.8 s, two copies ~5.6 s.
  const link = await slowLink(seeder.address, 6_000_000);
  closers.push(link.close);
  const downloads = await Promise.all(["d1", "d2"].map(async (name) => {
    const finalPath = join(dir, `${name}.mp4`);
    const own = await agentServer(`${finalPath}.part`, new Bitfield(PIECES));
    const download = new Download({
      groupId: file.groupId, file, grant: name, partPath: `${finalPath}.part`, finalPath,
      peers: [{ userId: "seeder", address: link.address, piecesHeld: PIECES, complete: true }],
      ownAddress: own.address,
      onPieceVerified: (piece) => own.registry.pieceVerified(own.served, piece),
    });
    return { name, finalPath, download };
  }));
  const summaries = await Promise.all(downloads.map(({ download }) => download.run()));
  for (const { finalPath } of downloads) {
    assert.equal(createHash("sha1").update(await readFile(finalPath)).digest("hex"), digest.sha1);
  }
  const copies = link.sentBytes() / data.length;
  assert.ok(copies <= 1.4, `the seeder sent ${copies.toFixed(2)} copies`);
  for (const [i, summary] of summaries.entries()) {
    const other = summary.perPeer.filter((peer) => peer.userId !== "seeder").reduce((sum, peer) => sum + peer.bytes, 0);
    assert.ok(other >= data.length * 0.3, `${downloads[i]!.name} took only ${other} of ${data.length} bytes from the other downloader`);
    assert.equal(summary.swarm, true);
  }
});

test("a peer hung before the download starts costs it less than a second", async () => {
  const seeders = await Promise.all([0, 1].map(() => agentServer(sourcePath, Bitfield.full(PIECES))));
  // Accepts connections (as the kernel does for a SIGSTOPped process) and never answers.
  const hung: Socket[] = [];
  const hungServer = createTcpServer((socket) => void hung.push(socket));
  hungServer.listen(0, "127.0.0.1");
  await once(hungServer, "listening");
  closers.push(async () => {
    hung.forEach((socket) => socket.destroy());
    await new Promise((done) => hungServer.close(done));
  });
  const peers = [
    ...seeders.map((s, i) => ({ userId: `seed${i}`, address: s.address, piecesHeld: PIECES, complete: true })),
    { userId: "stopped", address: `127.0.0.1:${(hungServer.address() as AddressInfo).port}`, piecesHeld: PIECES, complete: true },
  ];
  const run = async (withHung: boolean, name: string) => {
    const finalPath = join(dir, name);
    const started = performance.now();
    await new Download({ groupId: file.groupId, file, grant: "g", partPath: `${finalPath}.part`, finalPath, peers: withHung ? peers : peers.slice(0, 2) }).run();
    return performance.now() - started;
  };
  const healthy = await run(false, "healthy.mp4");
  const withHung = await run(true, "with-hung.mp4");
  assert.ok(withHung - healthy < 1000, `the hung peer added ${(withHung - healthy).toFixed(0)} ms (${healthy.toFixed(0)} ms without it)`);
});
