import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { request } from "undici";
import { startNetwork } from "./support/network.js";
import { agentUrl, anyCertificate } from "./support/agent-tls.js";
import type { PeerNode } from "../src/peer-node.js";
import { AGENT } from "../src/config.js";

const net = await startNetwork();
after(() => net.close());

const sha1 = (data: Uint8Array) => createHash("sha1").update(data).digest("hex");

/** alice owns `group`; every other name is an accepted member; all logged in. */
async function groupOf(group: string, names: string[]): Promise<PeerNode[]> {
  const nodes: PeerNode[] = [];
  for (const name of names) {
    const node = await net.node(`${group}-${name}`);
    await node.createUser(`${group}-${name}`, "pw");
    await node.login(`${group}-${name}`, "pw");
    nodes.push(node);
  }
  await nodes[0]!.createGroup(group);
  for (const node of nodes.slice(1)) {
    await node.joinGroup(group);
    await nodes[0]!.acceptRequest(group, node.userId!);
  }
  return nodes;
}

async function sourceFile(name: string, bytes: number): Promise<{ path: string; data: Buffer }> {
  const data = randomBytes(bytes);
  const path = join(net.dir, name);
  await writeFile(path, data);
  return { path, data };
}

/** A download grant for the file, as a member other than its holder gets it from the tracker. */
async function grantFor(member: PeerNode, group: string, fileName: string): Promise<string> {
  return (await member.tracker.getPeers(group, fileName)).grant;
}

/** What a peer agent answers for a file's bitfield with a valid grant: 200 when it serves the file, 404 when not. */
async function bitfieldStatus(node: PeerNode, group: string, fileSha1: string, grant: string): Promise<number> {
  const response = await request(`${agentUrl(node)}/groups/${group}/files/${fileSha1}/bitfield`, {
    dispatcher: anyCertificate,
    headers: { authorization: `Bearer ${grant}` },
  });
  await response.body.dump();
  return response.statusCode;
}

/** What a peer agent answers for the first 100 bytes of a file with a valid grant. */
async function firstBytes(node: PeerNode, group: string, fileSha1: string, grant: string): Promise<{ status: number; body: string }> {
  const response = await request(`${agentUrl(node)}/groups/${group}/files/${fileSha1}`, {
    dispatcher: anyCertificate,
    headers: { authorization: `Bearer ${grant}`, range: "bytes=0-99" },
  });
  return { status: response.statusCode, body: await response.body.text() };
}

test("a file uploaded by three members is downloaded by a fourth from all three, verified, and then shared by it", async () => {
  const [alice, bob, carol, dave] = await groupOf("g1", ["alice", "bob", "carol", "dave"]);
  const { path, data } = await sourceFile("movie.bin", 6 * 512 * 1024 + 777);
  const view = await alice!.uploadFile(path, "g1");
  assert.equal(view.sha1, sha1(data));
  // bob and carol hold the same content under the same name: they become extra peers.
  for (const node of [bob!, carol!]) {
    const copy = join(net.dir, `${node.userId}`, "movie.bin");
    await mkdir(join(net.dir, `${node.userId}`), { recursive: true });
    await writeFile(copy, data);
    await node.uploadFile(copy, "g1");
  }
  assert.equal((await dave!.listFiles("g1"))[0]!.peersOnline, 3);

  const destination = join(net.dir, "dave-downloads");
  await mkdir(destination);
  const started = await dave!.downloadFile("g1", "movie.bin", destination);
  assert.equal(started.state, "downloading");
  const ended = await dave!.waitForDownload(started.id);
  assert.equal(ended.state, "complete", JSON.stringify(ended.error));
  assert.equal(sha1(await readFile(join(destination, "movie.bin"))), sha1(data));
  const sources = ended.summary!.perPeer.filter((peer) => peer.bytes > 0).map((peer) => peer.userId).sort();
  assert.ok(sources.length >= 2, `pieces came from ${sources.join(", ")}`);

  const [listed] = await alice!.listFiles("g1");
  assert.equal(listed!.peersOnline, 4);
  assert.deepEqual((await dave!.listShares()).map((s) => [s.fileName, s.piecesHeld, s.pieceCount]), [["movie.bin", 7, 7]]);
});

test("a download never overwrites an existing file", async () => {
  const [alice, bob] = await groupOf("g2", ["alice", "bob"]);
  const { path } = await sourceFile("notes.txt", 1000);
  await alice!.uploadFile(path, "g2");
  const taken = join(net.dir, "taken.txt");
  await writeFile(taken, "mine");
  await assert.rejects(bob!.downloadFile("g2", "notes.txt", taken), { code: "DESTINATION_EXISTS" });
  assert.equal(await readFile(taken, "utf8"), "mine");
});

test("after logout the agent serves nothing; after login it serves what it shared before", async () => {
  const [alice, bob] = await groupOf("g3", ["alice", "bob"]);
  const { path, data } = await sourceFile("photo.jpg", 3000);
  await alice!.uploadFile(path, "g3");
  const grant = await grantFor(bob!, "g3", "photo.jpg");
  assert.equal(await bitfieldStatus(alice!, "g3", sha1(data), grant), 200);

  await alice!.logout();
  assert.equal(await bitfieldStatus(alice!, "g3", sha1(data), grant), 404);
  assert.equal((await bob!.listFiles("g3"))[0]!.peersOnline, 0);
  const outcome = await alice!.login("g3-alice", "pw");
  assert.equal(outcome.restored, 1);
  assert.equal(await bitfieldStatus(alice!, "g3", sha1(data), grant), 200);
  assert.equal((await bob!.listFiles("g3"))[0]!.peersOnline, 1);
});

test("shares survive a restart of the agent, and a file changed on disk meanwhile is dropped with a warning", async () => {
  const [alice] = await groupOf("g4", ["alice"]);
  const kept = await sourceFile("kept.bin", 2000);
  const changed = await sourceFile("changed.bin", 2000);
  await alice!.uploadFile(kept.path, "g4");
  await alice!.uploadFile(changed.path, "g4");
  await alice!.close();
  await writeFile(changed.path, randomBytes(2001));

  const again = await net.node("g4-alice");
  const outcome = await again.login("g4-alice", "pw");
  assert.equal(outcome.restored, 1);
  assert.deepEqual(outcome.dropped.map((d) => d.fileName), ["changed.bin"]);
  assert.match(outcome.dropped[0]!.reason, /changed on disk/);
  assert.deepEqual((await again.listShares()).map((s) => s.fileName), ["kept.bin"]);
  assert.ok((await stat(join(net.dir, "state-g4-alice", "state.json"))).isFile());
});

test("stop_share takes the file off this agent and out of the group when nobody else holds it", async () => {
  const [alice, bob] = await groupOf("g5", ["alice", "bob"]);
  const { path, data } = await sourceFile("draft.doc", 5000);
  await alice!.uploadFile(path, "g5");
  const grant = await grantFor(bob!, "g5", "draft.doc");
  await alice!.stopShare("g5", "draft.doc");
  assert.equal(await bitfieldStatus(alice!, "g5", sha1(data), grant), 404);
  assert.deepEqual(await bob!.listFiles("g5"), []);
});

test("leaving a group stops sharing its files", async () => {
  const [alice, bob] = await groupOf("g6", ["alice", "bob"]);
  const { path, data } = await sourceFile("shared-by-bob.bin", 4000);
  await bob!.uploadFile(path, "g6");
  const grant = await grantFor(alice!, "g6", "shared-by-bob.bin");
  await bob!.leaveGroup("g6");
  assert.equal(await bitfieldStatus(bob!, "g6", sha1(data), grant), 404);
  assert.deepEqual(await alice!.listFiles("g6"), []);
  assert.deepEqual(await bob!.listShares(), []);
});

test("commands that need a session say so before calling a tracker", async () => {
  const node = await net.node("nobody");
  await assert.rejects(node.listGroups(), { code: "NOT_LOGGED_IN", message: /login <user_id> <password>/ });
});

test("set_rate up 0 makes an agent refuse bytes while it stays a member, and unlimited makes it serve again", async () => {
  const [alice, bob] = await groupOf("g9", ["alice", "bob"]);
  const { path } = await sourceFile("notes.bin", 512 * 1024);
  const view = await alice!.uploadFile(path, "g9");
  const grant = await grantFor(bob!, "g9", "notes.bin");
  const piece = async () => (await firstBytes(alice!, "g9", view.sha1, grant)).status;
  assert.deepEqual(await alice!.setRate("up", "0"), { up: 0 });
  assert.equal(await piece(), 503);
  assert.deepEqual((await alice!.status()).rates, { up: 0 });
  assert.deepEqual(await alice!.setRate("UP".toLowerCase(), "unlimited"), {});
  assert.equal(await piece(), 206);
  await assert.rejects(alice!.setRate("down", "0"), { code: "BAD_RATE" });
  await assert.rejects(alice!.setRate("sideways", "2M"), { code: "BAD_ARGUMENT" });
});

test("a shared file changed on disk stops being served: its next range is a 404, its owner is told, and the tracker no longer lists it", async () => {
  const [alice, bob] = await groupOf("g10", ["alice", "bob"]);
  const { path } = await sourceFile("edited.bin", 2 * 512 * 1024);
  const view = await alice!.uploadFile(path, "g10");
  const grant = await grantFor(bob!, "g10", "edited.bin");
  const range = () => firstBytes(alice!, "g10", view.sha1, grant);
  assert.equal((await range()).status, 206);

  // Overwritten in place with other bytes of the same size, as an editor saving over it does.
  await writeFile(path, randomBytes(2 * 512 * 1024));
  const later = new Date(Date.now() + 5000);
  await utimes(path, later, later);
  // A comparison made within the last SHARED_FILE_CHECK_MS may still stand; the next one sees the change.
  await new Promise((resolve) => setTimeout(resolve, AGENT.SHARED_FILE_CHECK_MS + 100));
  const refused = await range();
  assert.equal(refused.status, 404);
  assert.equal((JSON.parse(refused.body) as { code: string }).code, "FILE_NOT_SHARED");

  assert.ok(net.notices.some((line) => /^g10-alice: stopped sharing \[g10\] edited\.bin: the file .*edited\.bin changed on disk/.test(line)), net.notices.join("\n"));
  assert.ok(!(await alice!.listShares()).some((share) => share.fileName === "edited.bin"));
  const deadline = Date.now() + 5000;
  let listed = true;
  while (listed && Date.now() < deadline) {
    listed = await bob!.tracker.getPeers("g10", "edited.bin").then((answer) => answer.peers.some((peer) => peer.userId === "g10-alice"), () => false);
    if (listed) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(listed, false, "the tracker still lists alice as holding the changed file");
});

test("a file of a shared folder changed on disk stops the folder being served: a range that meets it is cut, the next is a 404, and its owner is told", async () => {
  const [alice, bob] = await groupOf("g11", ["alice", "bob"]);
  const folder = join(net.dir, "album");
  await mkdir(folder);
  await writeFile(join(folder, "a.bin"), randomBytes(600 * 1024));
  await writeFile(join(folder, "b.bin"), randomBytes(600 * 1024));
  const view = await alice!.uploadFile(folder, "g11");
  const grant = await grantFor(bob!, "g11", "album");
  const inB = async () => {
    const response = await request(`${agentUrl(alice!)}/groups/g11/files/${view.sha1}`, {
      dispatcher: anyCertificate,
      headers: { authorization: `Bearer ${grant}`, range: `bytes=${600 * 1024}-${700 * 1024}` },
    });
    return { status: response.statusCode, body: await response.body.text() };
  };
  assert.equal((await inB()).status, 206);

  await writeFile(join(folder, "b.bin"), randomBytes(600 * 1024));
  const later = new Date(Date.now() + 5000);
  await utimes(join(folder, "b.bin"), later, later);
  // The answer's head goes out before the folder's files are read: the range that finds the change is cut short.
  await assert.rejects(inB());
  const refused = await inB();
  assert.equal(refused.status, 404);
  assert.equal((JSON.parse(refused.body) as { code: string }).code, "FILE_NOT_SHARED");
  assert.ok(net.notices.some((line) => /^g11-alice: stopped sharing \[g11\] album: the folder .*album changed on disk/.test(line)), net.notices.join("\n"));
  assert.ok(!(await alice!.listShares()).some((share) => share.fileName === "album"));
});

// Before, such a download waited with no peers for ever: the timeout makes that a failure, not a hang.
test("a download whose file nobody shares any more ends as failed with the tracker's word instead of waiting with no peers", { timeout: 30_000 }, async () => {
  const [alice, bob] = await groupOf("g12", ["alice", "bob"]);
  const { path } = await sourceFile("withdrawn.bin", 8 * 512 * 1024);
  await alice!.uploadFile(path, "g12");
  // Slow enough that the download is still running when the file is withdrawn.
  await alice!.setRate("up", "256K");
  const started = await bob!.downloadFile("g12", "withdrawn.bin", join(net.dir, "withdrawn-copy.bin"));
  await new Promise((resolve) => setTimeout(resolve, 300));
  await alice!.stopShare("g12", "withdrawn.bin");
  const ended = await bob!.waitForDownload(started.id);
  assert.equal(ended.state, "failed");
  assert.equal(ended.error?.code, "FILE_NOT_FOUND", JSON.stringify(ended.error));
  assert.match(ended.error!.message, /"withdrawn\.bin" is not shared in "g12"/);
});
