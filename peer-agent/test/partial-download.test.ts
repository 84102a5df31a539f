import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Bitfield } from "../../core/bitfield.js";
import { hashFile, PIECE_SIZE } from "../../core/pieces.js";
import { TrackerClient } from "../../core/tracker-client.js";
import { createGrantCheck } from "../src/grant-check.js";
import { createPeerServer } from "../src/http/server.js";
import type { PeerNode } from "../src/peer-node.js";
import { startNetwork } from "./support/network.js";

const net = await startNetwork();
const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
  await net.close();
});

const PIECES = 8;
const data = randomBytes(PIECES * PIECE_SIZE - 4321);
const sourcePath = join(net.dir, "season.mkv");
await writeFile(sourcePath, data);
const digest = await hashFile(sourcePath);
const evenPieces = Array.from({ length: PIECES }, (_, i) => i).filter((i) => i % 2 === 0);

/**
 * A member whose agent holds only the even pieces: a real piece server and a
 * real tracker session, so the downloader can get those pieces and no others.
 */
async function halfSeeder(userId: string, group: string): Promise<void> {
  const tracker = new TrackerClient(net.trackers);
  const verified = new Bitfield(PIECES);
  for (const piece of evenPieces) verified.set(piece);
  const server = createPeerServer({
    files: { find: (groupId, sha1) => (groupId === group && sha1 === digest.sha1 ? { groupId, sha1, size: digest.size, pieceSize: PIECE_SIZE, path: sourcePath, verified } : undefined) },
    checkGrant: createGrantCheck(() => tracker.allJwks()),
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  await tracker.createUser({ userId, password: "pw" });
  await tracker.login({ userId, password: "pw", peerAddress: `127.0.0.1:${(server.address() as AddressInfo).port}` });
  await tracker.createGroup(group);
  await tracker.shareFile(group, { fileName: "season.mkv", ...digest });
  await tracker.announce({ holdings: [{ groupId: group, fileName: "season.mkv", sha1: digest.sha1, piecesHeld: evenPieces.length }] });
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
    await tracker.close();
  });
  // The owner accepts whoever asks, so the test reads as the members' story.
  // One pass at a time: overlapping passes would accept the same request twice.
  let accepting = true;
  const acceptor = (async () => {
    while (accepting) {
      for (const request of await tracker.listJoinRequests(group)) await tracker.acceptJoin(group, request.userId);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  cleanups.unshift(async () => {
    accepting = false;
    await acceptor;
  });
}

async function member(name: string, group: string): Promise<PeerNode> {
  const node = await net.node(name);
  await node.createUser(name, "pw").catch(() => undefined);
  await node.login(name, "pw");
  await node.joinGroup(group);
  await until(`${name} to be accepted into ${group}`, async () =>
    (await node.listGroups()).find((g) => g.groupId === group && g.memberCount > 1 && g.owner !== name));
  await until(`${name} to see the files of ${group}`, () => node.listFiles(group).catch(() => undefined));
  return node;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test("verified pieces are served and announced before the download completes, and a restarted agent fetches only what is missing", async () => {
  await halfSeeder("p-alice", "p1");
  const dave = await member("p-dave", "p1");
  const bob = await member("p-bob", "p1");
  const destination = join(net.dir, "dave");
  await mkdir(destination);
  const started = await dave.downloadFile("p1", "season.mkv", destination);

  await until("the even pieces", async () => {
    const [info] = await dave.listDownloads();
    return info!.piecesDone === evenPieces.length ? info : undefined;
  });
  const listed = await until("the tracker to list dave as a partial holder", async () => {
    const peers = (await bob.tracker.getPeers("p1", "season.mkv")).peers;
    return peers.find((p) => p.userId === "p-dave" && p.piecesHeld === evenPieces.length);
  });
  assert.equal(listed.complete, false);
  assert.equal((await dave.listDownloads())[0]!.state, "downloading");

  // quit: the agent stops at once, the partial download stays in its state directory.
  await dave.close();
  const carol = await member("p-carol", "p1");
  const carolCopy = join(net.dir, "carol", "season.mkv");
  await mkdir(join(net.dir, "carol"));
  await writeFile(carolCopy, data);
  await carol.uploadFile(carolCopy, "p1");

  const again = await net.node("p-dave");
  const outcome = await again.login("p-dave", "pw");
  assert.equal(outcome.resumed, 1);
  const [resumed] = await again.listDownloads();
  assert.equal(resumed!.id, started.id);
  const ended = await again.waitForDownload(resumed!.id);
  assert.equal(ended.state, "complete", JSON.stringify(ended.error));
  const fetchedAfterRestart = ended.summary!.perPeer.reduce((sum, peer) => sum + peer.bytes, 0);
  const oddBytes = data.length - evenPieces.reduce((sum, i) => sum + Math.min(PIECE_SIZE, data.length - i * PIECE_SIZE), 0);
  assert.equal(fetchedAfterRestart, oddBytes, "only the missing pieces are fetched after the restart");
  assert.equal(createHash("sha1").update(await readFile(join(destination, "season.mkv"))).digest("hex"), digest.sha1);
});

/** Starts a download from a group whose only seeder holds the even pieces, and waits until they are all in. */
async function stalledDownload(name: string, group: string): Promise<{ node: PeerNode; destination: string }> {
  await halfSeeder(`${name}-owner`, group);
  const node = await member(name, group);
  const destination = join(net.dir, name);
  await mkdir(destination);
  await node.downloadFile(group, "season.mkv", destination);
  await until("the even pieces", async () => {
    const [info] = await node.listDownloads();
    return info!.piecesDone === evenPieces.length ? info : undefined;
  });
  return { node, destination };
}

test("the speed of a download that receives nothing falls to 0", async () => {
  const { node } = await stalledDownload("r-dave", "r1");
  const deadline = Date.now() + 15_000;
  while ((await node.listDownloads())[0]!.bytesPerSecond > 0) {
    assert.ok(Date.now() < deadline, "the speed is still above 0 long after the last piece");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.equal((await node.listDownloads())[0]!.state, "downloading");
});

test("a paused download stays paused across a restart of the agent, and resume_download fetches only what is missing", async () => {
  const { node, destination } = await stalledDownload("s-dave", "s1");
  const paused = await node.pauseDownload("s1", "season.mkv");
  assert.equal(paused.state, "paused");
  await node.close();

  const again = await net.node("s-dave");
  const outcome = await again.login("s-dave", "pw");
  assert.equal(outcome.resumed, 0, "a paused download is not resumed at login");
  const [listed] = await again.listDownloads();
  assert.deepEqual([listed!.state, listed!.piecesDone], ["paused", evenPieces.length]);

  const carol = await member("s-carol", "s1");
  await carol.uploadFile(sourcePath, "s1");
  const resumed = await again.resumeDownload("s1", "season.mkv");
  assert.equal(resumed.piecesDone, evenPieces.length, "it starts from the pieces it had");
  assert.ok(resumed.bytesDone > 0);
  const ended = await again.waitForDownload(resumed.id);
  assert.equal(ended.state, "complete", JSON.stringify(ended.error));
  const oddBytes = data.length - evenPieces.reduce((sum, i) => sum + Math.min(PIECE_SIZE, data.length - i * PIECE_SIZE), 0);
  assert.equal(ended.summary!.perPeer.reduce((sum, peer) => sum + peer.bytes, 0), oddBytes);
  assert.ok((await readFile(join(destination, "season.mkv"))).equals(data));
});

test("cancel_download deletes the partial file and takes the download off the list", async () => {
  const { node, destination } = await stalledDownload("t-dave", "t1");
  await node.cancelDownload("t1", "season.mkv");
  await assert.rejects(stat(join(destination, "season.mkv.part")), { code: "ENOENT" });
  assert.deepEqual(await node.listDownloads(), []);
  assert.deepEqual(await node.listShares(), []);
});

test("clear_downloads takes the complete downloads off the list", async () => {
  await halfSeeder("u-alice", "u1");
  const carol = await member("u-carol", "u1");
  await carol.uploadFile(sourcePath, "u1");
  const dave = await member("u-dave", "u1");
  const destination = join(net.dir, "u-dave");
  await mkdir(destination);
  const started = await dave.downloadFile("u1", "season.mkv", destination);
  assert.equal((await dave.waitForDownload(started.id)).state, "complete");
  assert.equal(await dave.clearDownloads(), 1);
  assert.deepEqual(await dave.listDownloads(), []);
});

test("after logout show_downloads lists a running download as stopped, to resume at the next login", async () => {
  const { node } = await stalledDownload("v-dave", "v1");
  await node.logout();
  const [listed] = await node.listDownloads();
  assert.deepEqual([listed!.state, listed!.piecesDone], ["stopped", evenPieces.length]);
});
