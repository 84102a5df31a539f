import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { Bitfield } from "../../core/bitfield.js";
import { Download } from "../../core/download/engine.js";
import type { FileMetadata, PeerView } from "../../core/api-types.js";
import { createPeerServer } from "../src/http/server.js";

const PIECE = 64 * 1024;
const PIECES = 40;
const dir = await mkdtemp(join(tmpdir(), "multi-peer-"));
const servers: Server[] = [];
after(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await rm(dir, { recursive: true, force: true });
});

const data = randomBytes(PIECE * PIECES - 1234);
const sourcePath = join(dir, "source.bin");
await writeFile(sourcePath, data);
const pieceHashes = Array.from({ length: PIECES }, (_, i) =>
  createHash("sha1").update(data.subarray(i * PIECE, Math.min((i + 1) * PIECE, data.length))).digest("hex"));
const metadata: FileMetadata = {
  groupId: "team", fileName: "data.bin", size: data.length,
  sha1: createHash("sha1").update(data).digest("hex"), pieceSize: PIECE, pieceHashes,
};

/** Starts a real peer agent server sharing the file with the given verified pieces. */
async function seeder(userId: string, pieces: number[], path = sourcePath): Promise<PeerView> {
  const verified = new Bitfield(PIECES);
  for (const piece of pieces) verified.set(piece);
  const served = { groupId: "team", sha1: metadata.sha1, size: data.length, pieceSize: PIECE, path, verified };
  const server = createPeerServer({
    files: { find: (groupId, sha1) => (groupId === "team" && sha1 === metadata.sha1 ? served : undefined) },
    checkGrant: async () => "downloader",
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { userId, address: `127.0.0.1:${port}`, piecesHeld: pieces.length, complete: pieces.length === PIECES };
}

const all = Array.from({ length: PIECES }, (_, i) => i);
const sha1Of = async (path: string) => createHash("sha1").update(await readFile(path)).digest("hex");

test("a file is assembled from several peers, each piece verified, and only whole-file-correct data lands", async () => {
  const peers = [await seeder("alice", all), await seeder("bob", all), await seeder("carol", all.filter((i) => i % 2 === 0))];
  const finalPath = join(dir, "out-1.bin");
  const verifiedOrder: number[] = [];
  const download = new Download({
    groupId: "team", file: metadata, peers, grant: "g", partPath: `${finalPath}.part`, finalPath,
    onPieceVerified: (index) => verifiedOrder.push(index),
  });
  const summary = await download.run();
  assert.equal(await sha1Of(finalPath), metadata.sha1);
  assert.equal(verifiedOrder.length, PIECES);
  const contributors = summary.perPeer.filter((p) => p.pieces > 0);
  assert.ok(contributors.length >= 3, `pieces came from ${contributors.map((p) => p.userId).join(", ")}`);
  assert.equal(summary.perPeer.reduce((sum, p) => sum + p.bytes, 0), data.length);
});

test("a peer that serves corrupted bytes is banned and named, and the download still completes", async () => {
  const corrupted = Buffer.from(data);
  for (let i = 0; i < corrupted.length; i += 1000) corrupted[i] = corrupted[i]! ^ 0xff;
  const liarPath = join(dir, "liar.bin");
  await writeFile(liarPath, corrupted);
  const peers = [await seeder("mallory", all, liarPath), await seeder("alice", all)];
  const finalPath = join(dir, "out-2.bin");
  const summary = await new Download({
    groupId: "team", file: metadata, peers, grant: "g", partPath: `${finalPath}.part`, finalPath,
  }).run();
  assert.equal(await sha1Of(finalPath), metadata.sha1);
  const mallory = summary.perPeer.find((p) => p.userId === "mallory");
  assert.equal(mallory?.banned, true);
  assert.equal(mallory?.pieces, 0);
});

test("a resumed download fetches only the pieces it is missing", async () => {
  const finalPath = join(dir, "out-3.bin");
  const partPath = `${finalPath}.part`;
  const have = new Bitfield(PIECES);
  const part = Buffer.alloc(data.length);
  for (let i = 0; i < 30; i++) {
    have.set(i);
    data.copy(part, i * PIECE, i * PIECE, Math.min((i + 1) * PIECE, data.length));
  }
  await writeFile(partPath, part);
  const summary = await new Download({
    groupId: "team", file: metadata, peers: [await seeder("alice", all)], grant: "g", partPath, finalPath, have,
  }).run();
  assert.equal(await sha1Of(finalPath), metadata.sha1);
  assert.equal(summary.bytes, data.length - 30 * PIECE);
});

test("a destination that already exists is never overwritten", async () => {
  const finalPath = join(dir, "exists.bin");
  await writeFile(finalPath, "keep me");
  await assert.rejects(
    new Download({ groupId: "team", file: metadata, peers: [await seeder("alice", all)], grant: "g",
      partPath: `${finalPath}.part`, finalPath }).run(),
    (error: unknown) => (error as { code?: string }).code === "DESTINATION_EXISTS",
  );
  assert.equal(await readFile(finalPath, "utf8"), "keep me");
});

test("a download fails clearly when no peer holds some piece", async () => {
  const finalPath = join(dir, "out-5.bin");
  await assert.rejects(
    new Download({ groupId: "team", file: metadata, peers: [await seeder("alice", all.slice(0, 10))], grant: "g",
      partPath: `${finalPath}.part`, finalPath }).run(),
    (error: unknown) => (error as { code?: string }).code === "NO_PEER_HAS_PIECE",
  );
});
