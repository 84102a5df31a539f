/**
 * Shared folders end to end (issue 18): a tracker process and peer-agent
 * processes on loopback, driven through their control endpoints as
 * `client --agent` drives them.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { request } from "undici";
import { freePort } from "../../core/free-port.js";
import { TrackerClient } from "../../core/tracker-client.js";
import { parseTrackerInfo } from "../../core/tracker-info.js";
import { stopAgent, type RemotePeerNode } from "../src/control/client.js";
import { AgentProcesses } from "./support/agent-processes.js";

const dir = await mkdtemp(join(tmpdir(), "folders-"));
const agents = new AgentProcesses(dir);
const children: ChildProcess[] = [];
const servers: ReturnType<typeof createServer>[] = [];
after(async () => {
  await agents.stopAll();
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  for (const server of servers) server.close();
  await rm(dir, { recursive: true, force: true });
});

const trackerPort = await freePort();
const trackerInfo = join(dir, "tracker_info.txt");
await writeFile(trackerInfo, `127.0.0.1:${trackerPort}\n`);
// stdin stays open: the tracker reads `quit` from it.
const tracker = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), "tracker-api/src/main.ts", trackerInfo, "1", "--data-dir", join(dir, "tracker")], {
  stdio: ["pipe", "ignore", "inherit"],
  env: { ...process.env, P2P_LOG_LEVEL: "warn" },
});
children.push(tracker);

/** A course folder: nested directories, empty files, a file spanning pieces, many small files and a non-ASCII name. */
const source = join(dir, "course");
const files = new Map<string, Buffer>([
  ["readme.txt", randomBytes(3000)],
  ["empty.txt", Buffer.alloc(0)],
  ["week-1/slides.pdf", randomBytes(700 * 1024)],
  ["week-1/empty-too.txt", Buffer.alloc(0)],
  ["week-2/deep/a/b/notes.md", randomBytes(12_345)],
  ["Übung ñ.txt", randomBytes(999)],
  ...Array.from({ length: 150 }, (_, i) => [`many/f${String(i).padStart(4, "0")}.bin`, randomBytes((i * 7919) % 6000)] as [string, Buffer]),
]);
for (const [path, data] of files) {
  await mkdir(join(source, ...path.split("/").slice(0, -1)), { recursive: true });
  await writeFile(join(source, ...path.split("/")), data);
}

/** Every file under `root` by its `/`-separated path, with its content's SHA1. */
async function tree(root: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    found[relative(root, path).split(sep).join("/")] = createHash("sha1").update(await readFile(path)).digest("hex");
  }
  return found;
}
const expected = Object.fromEntries([...files].map(([path, data]) => [path, createHash("sha1").update(data).digest("hex")]));

const deadline = Date.now() + 90_000;
while (!(await request(`http://127.0.0.1:${trackerPort}/health`).then((r) => r.statusCode === 200, () => false))) {
  assert.ok(Date.now() < deadline, "the tracker did not start");
  await new Promise((resolve) => setTimeout(resolve, 100));
}

/**
 * A tracker that lies about one thing: every folder's manifest is a hostile
 * one (a path that climbs out of the destination); every other request goes
 * to the real tracker.
 */
async function lyingTracker(): Promise<string> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const answer = await request(`http://127.0.0.1:${trackerPort}${req.url}`, {
        method: req.method as "GET", headers: { ...req.headers, host: `127.0.0.1:${trackerPort}` }, body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      let body = Buffer.from(await answer.body.arrayBuffer());
      if (req.url?.endsWith("/manifest") && answer.statusCode === 200) {
        const manifest = JSON.parse(body.toString("utf8")) as { files: { path: string }[] };
        manifest.files[0]!.path = "../../escaped.txt";
        body = Buffer.from(JSON.stringify(manifest));
      }
      const headers: Record<string, string | string[] | undefined> = { ...answer.headers, "content-length": String(body.length) };
      delete headers["transfer-encoding"];
      res.writeHead(answer.statusCode, headers);
      res.end(body);
    })().catch((error: unknown) => res.destroy(error as Error));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  servers.push(server);
  const info = join(dir, "lying_tracker_info.txt");
  await writeFile(info, `127.0.0.1:${(server.address() as AddressInfo).port}\n`);
  return info;
}

/** The download's end, or a failure after a minute: a download that cannot get good pieces retries for ever. */
async function finished(api: RemotePeerNode, id: string) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("the download did not end within 60 s")), 60_000)));
  try {
    return await Promise.race([api.waitForDownload(id), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function member(api: RemotePeerNode, name: string, owner: RemotePeerNode): Promise<void> {
  await api.createUser(name, "pw");
  await api.login(name, "pw");
  await api.joinGroup("class");
  await owner.acceptRequest("class", name);
}

const lyingInfo = await lyingTracker();
const [alice, bob, carol, mallory] = await Promise.all([
  agents.start("alice", trackerInfo),
  agents.start("bob", trackerInfo),
  agents.start("carol", trackerInfo),
  agents.start("dave", lyingInfo),
]);
await alice!.api.createUser("alice", "pw");
await alice!.api.login("alice", "pw");
await alice!.api.createGroup("class");
await member(bob!.api, "bob", alice!.api);
await member(carol!.api, "carol", alice!.api);
await member(mallory!.api, "dave", alice!.api);

test("a shared folder is listed as one entry with its file count and size, and downloaded as the same tree", async () => {
  const shared = await alice!.api.uploadFile(source, "class");
  assert.equal(shared.fileName, "course");
  assert.equal(shared.fileCount, files.size);
  const size = [...files.values()].reduce((sum, data) => sum + data.length, 0);
  assert.equal(shared.size, size);

  const listed = await bob!.api.listFiles("class");
  assert.deepEqual(listed.map((file) => [file.fileName, file.fileCount, file.size]), [["course", files.size, size]]);

  await mkdir(join(dir, "bob"));
  const started = await bob!.api.downloadFile("class", "course", join(dir, "bob"));
  const done = await finished(bob!.api, started.id);
  assert.equal(done.state, "complete", JSON.stringify(done.error));
  assert.deepEqual(await tree(join(dir, "bob", "course")), expected);
  assert.deepEqual(await readdir(join(dir, "bob")), ["course"], "the work folder is gone");
});

test("a folder downloaded by one member is served to the next from its files, also after that member logs in again", async () => {
  await alice!.api.stopShare("class", "course");
  await bob!.api.logout();
  const again = await bob!.api.login("bob", "pw");
  assert.deepEqual(again.dropped, []);
  assert.equal(again.restored, 1);
  await mkdir(join(dir, "carol"));
  const started = await carol!.api.downloadFile("class", "course", join(dir, "carol"));
  const done = await finished(carol!.api, started.id);
  assert.equal(done.state, "complete", JSON.stringify(done.error));
  assert.deepEqual(await tree(join(dir, "carol", "course")), expected);
  assert.ok(done.summary!.perPeer.every((peer) => peer.userId === "bob" || peer.bytes === 0));
});

test("a folder download stopped with its agent resumes at the next login with the pieces it had", async () => {
  // Slow enough (3 pieces at 256 KiB/s) to be stopped after its first piece.
  const first = await agents.start("frank", trackerInfo, ["--max-download-rate", "256K"]);
  await member(first.api, "frank", alice!.api);
  await mkdir(join(dir, "frank"));
  const started = await first.api.downloadFile("class", "course", join(dir, "frank"));
  for (let waited = 0; ; waited += 50) {
    const [now] = await first.api.listDownloads();
    if (now!.piecesDone > 0) break;
    assert.ok(waited < 60_000, "no piece within 60 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await stopAgent(first.api);
  await resumesAndCompletes("frank", started.id);
});

/** Starts `name`'s agent again: its folder download resumes with the pieces it had, fetches only the rest and lays out the tree. */
async function resumesAndCompletes(name: string, downloadId: string): Promise<void> {
  const again = await agents.start(name, trackerInfo);
  const outcome = await again.api.login(name, "pw");
  assert.equal(outcome.resumed, 1);
  const [resumed] = await again.api.listDownloads();
  assert.ok(resumed!.piecesDone > 0, "the verified pieces were kept");
  const done = await finished(again.api, downloadId);
  assert.equal(done.state, "complete", JSON.stringify(done.error));
  assert.ok(done.summary!.perPeer.reduce((sum, peer) => sum + peer.bytes, 0) < done.size, "only the missing pieces were fetched");
  assert.deepEqual(await tree(join(dir, name, "course")), expected);
}

/** Waits until `ready()` holds, polling; fails after a minute. */
async function until(what: string, ready: () => Promise<boolean>): Promise<void> {
  for (let waited = 0; !(await ready()); waited += 20) {
    assert.ok(waited < 60_000, `${what} within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("a folder's pieces are written straight into its files under the part folder, with no stream file and no second copy", async () => {
  // Slow (128 KiB/s for ~1.2 MiB) so it is looked at many times while it downloads.
  const grace = await agents.start("grace", trackerInfo, ["--max-download-rate", "128K"]);
  await member(grace.api, "grace", alice!.api);
  await mkdir(join(dir, "grace"));
  const size = [...files.values()].reduce((sum, data) => sum + data.length, 0);
  const part = join(dir, "grace", "course.part");
  const started = await grace.api.downloadFile("class", "course", join(dir, "grace"));
  let looked = 0;
  for (;;) {
    const [now] = await grace.api.listDownloads();
    if (now!.state !== "downloading") break;
    const names = await readdir(part).catch(() => undefined);
    if (names && now!.piecesDone > 0 && now!.piecesDone < now!.pieceCount) {
      assert.deepEqual(names, ["tree"], "nothing but the tree in the part folder");
      let bytes = 0;
      for (const entry of await readdir(join(part, "tree"), { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const path = relative(join(part, "tree"), join(entry.parentPath, entry.name)).split(sep).join("/");
        const info = await stat(join(entry.parentPath, entry.name));
        assert.ok(files.has(path), `${path} is one of the folder's files`);
        assert.ok(info.size <= files.get(path)!.length, `${path} is no longer than the folder's file`);
        bytes += info.size;
      }
      assert.ok(bytes > 0 && bytes <= size, `the tree holds ${bytes} bytes, at most the folder's ${size}`);
      looked++;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const done = await finished(grace.api, started.id);
  assert.equal(done.state, "complete", JSON.stringify(done.error));
  assert.ok(looked > 0, "the part folder was looked at while pieces were in it");
  assert.deepEqual(await tree(join(dir, "grace", "course")), expected);
  assert.deepEqual(await readdir(join(dir, "grace")), ["course"], "the part folder is gone");
});

test("a folder download resumes after its agent is killed mid-download, fetching only the pieces it did not have", async () => {
  const heidi = await agents.start("heidi", trackerInfo, ["--max-download-rate", "128K"]);
  await member(heidi.api, "heidi", alice!.api);
  await mkdir(join(dir, "heidi"));
  const started = await heidi.api.downloadFile("class", "course", join(dir, "heidi"));
  await until("a verified piece", async () => ((await heidi.api.listDownloads())[0]?.piecesDone ?? 0) > 0);
  // Past the state file's save delay (AGENT.STATE_SAVE_DELAY_MS), so the verified piece is on record.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await agents.kill("heidi");
  await resumesAndCompletes("heidi", started.id);
  assert.deepEqual(await readdir(join(dir, "heidi")), ["course"], "the part folder is gone");
});

test("a symlink planted in a folder download's part tree does not redirect a write", async () => {
  // Slow (64 KiB/s), so the link is in place long before the last piece, which holds the last file, arrives.
  const ivan = await agents.start("ivan", trackerInfo, ["--max-download-rate", "64K"]);
  await member(ivan.api, "ivan", alice!.api);
  await mkdir(join(dir, "ivan"));
  const victim = join(dir, "victim.txt");
  await writeFile(victim, "not to be overwritten");
  const partTree = join(dir, "ivan", "course.part", "tree");
  const started = await ivan.api.downloadFile("class", "course", join(dir, "ivan"));
  await until("the part tree", async () => (await stat(partTree).catch(() => undefined)) !== undefined);
  // The agent may have created the file already (it makes the files ahead of their pieces, empty): replaced.
  await rm(join(partTree, "Übung ñ.txt"), { force: true });
  await symlink(victim, join(partTree, "Übung ñ.txt"));
  const done = await finished(ivan.api, started.id);
  assert.equal(done.state, "failed");
  assert.equal(done.error!.code, "WRITE_FAILED");
  assert.match(done.error!.message, /not a file this download made/);
  assert.equal(await readFile(victim, "utf8"), "not to be overwritten");
  await ivan.api.cancelDownload("class", "course");
  assert.deepEqual(await readdir(join(dir, "ivan")), [], "cancelling removes the part folder");
});

test("a manifest with a path out of the destination is refused before anything is written", async () => {
  await mkdir(join(dir, "dave"));
  await assert.rejects(mallory!.api.downloadFile("class", "course", join(dir, "dave")), { code: "BAD_MANIFEST" });
  assert.deepEqual(await readdir(join(dir, "dave")), []);
  assert.deepEqual(await readdir(dir).then((names) => names.filter((name) => name.startsWith("escaped"))), []);
});

test("the tracker refuses a manifest whose paths climb out, collide, or make a file a directory", async () => {
  const client = new TrackerClient(parseTrackerInfo(`127.0.0.1:${trackerPort}\n`));
  try {
    await client.login({ userId: "carol", password: "pw", peerAddress: "127.0.0.1:9" });
    const base = { fileName: "evil", size: 2, sha1: "a".repeat(40), pieceSize: 524288, pieceHashes: ["b".repeat(40)] };
    for (const manifest of [
      [{ path: "../x", size: 2 }],
      [{ path: "/etc/x", size: 2 }],
      [{ path: "A.txt", size: 1 }, { path: "a.txt", size: 1 }],
      [{ path: "x", size: 1 }, { path: "x/y", size: 1 }],
      [{ path: "x", size: 1 }],
    ]) {
      await assert.rejects(client.shareFile("class", { ...base, manifest }), { code: "BAD_MANIFEST" }, JSON.stringify(manifest));
    }
  } finally {
    await client.close();
  }
});

test("a folder's manifest is shown to members only, and a plain file has none", async () => {
  const outsider = new TrackerClient(parseTrackerInfo(`127.0.0.1:${trackerPort}\n`));
  try {
    await outsider.createUser({ userId: "eve", password: "pw" });
    await outsider.login({ userId: "eve", password: "pw", peerAddress: "127.0.0.1:9" });
    await assert.rejects(outsider.getManifest("class", "course"), { code: "NOT_MEMBER" });
  } finally {
    await outsider.close();
  }
  const plain = join(dir, "plain.txt");
  await writeFile(plain, "just a file");
  await bob!.api.uploadFile(plain, "class");
  const listed = await bob!.api.listFiles("class");
  assert.equal(listed.find((file) => file.fileName === "plain.txt")!.fileCount, undefined);
});

test("a folder holding a symlink that leads out of it is not shared", async () => {
  const leaky = join(dir, "leaky");
  await mkdir(leaky);
  await writeFile(join(leaky, "ok.txt"), "fine");
  await symlink(trackerInfo, join(leaky, "secret"));
  await assert.rejects(alice!.api.uploadFile(leaky, "class"), { code: "UNSHAREABLE_ENTRY" });
});

test("a folder of more files than the agent may open descriptors downloads whole", async () => {
  // 1,500 files against a limit of 128 descriptors: more than the limit wait to be written or read back at once.
  const many = join(dir, "many-small");
  const small = new Map(Array.from({ length: 1500 }, (_, i) => [`d${i % 15}/f${i}.txt`, randomBytes(64 + (i % 200))] as [string, Buffer]));
  for (let d = 0; d < 15; d++) await mkdir(join(many, `d${d}`), { recursive: true });
  for (const [path, data] of small) await writeFile(join(many, ...path.split("/")), data);
  await alice!.api.uploadFile(many, "class");
  const judy = await agents.start("judy", trackerInfo, [], { openFiles: 128 });
  await member(judy.api, "judy", alice!.api);
  await mkdir(join(dir, "judy"));
  const started = await judy.api.downloadFile("class", "many-small", join(dir, "judy"));
  const done = await finished(judy.api, started.id);
  assert.equal(done.state, "complete", JSON.stringify(done.error));
  assert.deepEqual(await tree(join(dir, "judy", "many-small")), Object.fromEntries([...small].map(([path, data]) => [path, createHash("sha1").update(data).digest("hex")])));
});
