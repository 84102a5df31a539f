import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DownloadQueue } from "../src/download-queue.js";
import type { PeerNode } from "../src/peer-node.js";
import { startNetwork } from "./support/network.js";

test("the queue lets `limit` run and starts the others in the order they asked", async () => {
  const queue = new DownloadQueue(1);
  const started: string[] = [];
  const first = await queue.take(new AbortController().signal);
  const waiting = ["b", "c"].map((name) => queue.take(new AbortController().signal).then((done) => (started.push(name), done)));
  assert.equal(queue.full, true);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(started, []);
  first();
  (await waiting[0]!)();
  (await waiting[1]!)();
  assert.deepEqual(started, ["b", "c"]);
  assert.equal(queue.full, false);
});

test("a download paused while it waits leaves the queue without ever running", async () => {
  const queue = new DownloadQueue(1);
  const first = await queue.take(new AbortController().signal);
  const paused = new AbortController();
  const waiting = queue.take(paused.signal);
  const next = queue.take(new AbortController().signal);
  paused.abort(new Error("paused"));
  await assert.rejects(waiting, /paused/);
  first();
  (await next)();
  assert.equal(queue.full, false);
});

const net = await startNetwork();
after(() => net.close());

/** alice shares `count` files of 2 MiB and uploads at 1 MiB/s: each download takes about two seconds. */
async function sharedFiles(group: string, count: number): Promise<{ alice: PeerNode; names: string[] }> {
  const alice = await net.node(`${group}-alice`);
  await alice.createUser(`${group}-alice`, "pw");
  await alice.login(`${group}-alice`, "pw");
  await alice.createGroup(group);
  await alice.setRate("up", "1M");
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = join(net.dir, `${group}-part${i}.bin`);
    await writeFile(path, randomBytes(2 * 1024 * 1024));
    names.push((await alice.uploadFile(path, group)).fileName);
  }
  return { alice, names };
}

async function member(group: string, owner: PeerNode, name: string, maxActiveDownloads: number): Promise<PeerNode> {
  const node = await net.node(`${group}-${name}`, { maxActiveDownloads });
  await node.createUser(`${group}-${name}`, "pw");
  await node.login(`${group}-${name}`, "pw");
  await node.joinGroup(group);
  await owner.acceptRequest(group, `${group}-${name}`);
  return node;
}

test("with one download at a time the others wait as queued and run one after another, in the order asked", async () => {
  const { alice, names } = await sharedFiles("q1", 3);
  const dave = await member("q1", alice, "dave", 1);
  const started = [];
  for (const name of names) started.push(await dave.downloadFile("q1", name, join(net.dir, `q1-dave-${name}`)));
  assert.deepEqual(started.map((d) => d.state), ["downloading", "queued", "queued"]);
  const done = await Promise.all(started.map((d) => dave.waitForDownload(d.id)));
  assert.deepEqual(done.map((d) => d.state), ["complete", "complete", "complete"]);
  const finished = done.map((d) => Date.parse(d.finishedAt!));
  assert.ok(finished[0]! <= finished[1]! && finished[1]! <= finished[2]!, `finished at ${finished.join(", ")}`);
  // One at a time: each one's own time is about the file's at alice's rate (2 s), not three sharing it (6 s).
  for (const d of done) assert.ok(d.summary!.durationMs < 3500, `a download took ${d.summary!.durationMs} ms`);
});

test("queued downloads stay queued across a restart of the agent and start in the same order", async () => {
  const { alice, names } = await sharedFiles("q2", 2);
  const erin = await member("q2", alice, "erin", 1);
  for (const name of names) await erin.downloadFile("q2", name, join(net.dir, `q2-erin-${name}`));
  await erin.close();
  const again = await net.node("q2-erin", { maxActiveDownloads: 1 });
  const outcome = await again.login("q2-erin", "pw");
  assert.equal(outcome.resumed, 2);
  const listed = await again.listDownloads();
  assert.deepEqual(listed.map((d) => [d.fileName, d.state]), [[names[0], "downloading"], [names[1], "queued"]]);
  const done = await Promise.all(listed.map((d) => again.waitForDownload(d.id)));
  assert.deepEqual(done.map((d) => d.state), ["complete", "complete"]);
});
