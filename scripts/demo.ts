/**
 * `npm start`: a live demonstration on this machine alone. Two trackers and
 * four peer agents on loopback ports, accounts and a group, a generated file
 * shared by three members and downloaded by the fourth from all of them, the
 * SHA1 checked, then tracker 1 killed and the next command served by tracker 2.
 * Everything runs from a temporary directory that is removed at the end.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { SingleBar } from "cli-progress";
import { request } from "undici";
import { connectToAgent, type RemotePeerNode } from "../peer-agent/src/control/client.js";
import { bold, canStyle } from "../cli/src/terminal-style.js";
import { freePort } from "../core/free-port.js";

const ROOT = new URL("..", import.meta.url).pathname;
const options = new Command("demo")
  .description("Live demo: 2 trackers, 4 clients, one multi-peer download, one tracker failure")
  .option("--size-mb <n>", "size of the generated file in MiB", (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 16384) throw new InvalidArgumentError("a whole number of MiB, 1 to 16384");
    return n;
  }, 256)
  .option("--keep", "keep the temporary directory (logs, state, files) for a look afterwards")
  .parse()
  .opts<{ sizeMb: number; keep?: boolean }>();

const children: ChildProcess[] = [];
const clients: Record<string, RemotePeerNode> = {};
const dir = await mkdtemp(join(tmpdir(), "p2p-demo-"));
let cleaning = false;

async function cleanUp(): Promise<void> {
  if (cleaning) return;
  cleaning = true;
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  await Promise.all(children.map((child) => (child.exitCode === null && child.signalCode === null ? once(child, "exit") : undefined)));
  if (options.keep) say(`kept ${dir}`);
  else await rm(dir, { recursive: true, force: true });
}
process.once("SIGINT", () => void cleanUp().then(() => process.exit(130)));

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

const styled = canStyle(process.stdout);

function step(title: string): void {
  say(`\n${bold(`== ${title}`, styled)}`);
}


/** Starts one of this package's commands from dist/, logging to a file in the demo directory. */
function startProcess(name: string, script: string, args: string[]): ChildProcess {
  const log = createWriteStream(join(dir, `${name}.log`));
  const child = spawn(process.execPath, [join(ROOT, "dist", script), ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, P2P_LOG_LEVEL: "info" },
  });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  children.push(child);
  return child;
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs / 1000} s (logs in ${dir})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function sha1OfFile(path: string): Promise<string> {
  const hash = createHash("sha1");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

async function main(): Promise<void> {
  step("Two trackers");
  const trackerPorts = [await freePort(), await freePort()];
  const info = join(dir, "tracker_info.txt");
  await writeFile(info, trackerPorts.map((port) => `127.0.0.1:${port}`).join("\n") + "\n");
  const trackers = trackerPorts.map((_port, i) =>
    startProcess(`tracker-${i + 1}`, "tracker-api/src/main.js", [info, String(i + 1), "--data-dir", join(dir, `tracker-${i + 1}`)]),
  );
  for (const port of trackerPorts) {
    await waitUntil(`tracker on ${port}`, async () => (await request(`http://127.0.0.1:${port}/health`)).statusCode === 200);
    say(`tracker listening on 127.0.0.1:${port}`);
  }

  step("Four clients (peer agents)");
  const names = ["alice", "bob", "carol", "dave"];
  for (const name of names) {
    const port = await freePort();
    const stateDir = join(dir, name);
    startProcess(name, "peer-agent/src/main.js", [`127.0.0.1:${port}`, info, "--state-dir", stateDir]);
    await waitUntil(`${name}'s agent`, async () => {
      clients[name] = await connectToAgent({ host: "127.0.0.1", port, stateDir });
      return true;
    });
    await clients[name]!.createUser(name, `${name}-password`);
    await clients[name]!.login(name, `${name}-password`);
    say(`${name.padEnd(6)} logged in, serving pieces on 127.0.0.1:${port}`);
  }
  const { alice, bob, carol, dave } = clients as Record<"alice" | "bob" | "carol" | "dave", RemotePeerNode>;

  step("A group");
  await alice.createGroup("demo");
  for (const member of [bob, carol, dave]) {
    const request = await member.joinGroup("demo");
    await alice.acceptRequest("demo", request.userId);
  }
  say(`group "demo": ${(await alice.listGroups()).find((g) => g.groupId === "demo")!.memberCount} members, owner alice`);

  step(`A ${options.sizeMb} MiB file shared by alice, bob and carol`);
  const original = join(dir, "alice", "demo-file.bin");
  await mkdir(join(dir, "alice"), { recursive: true });
  const out = createWriteStream(original);
  for (let written = 0; written < options.sizeMb; written++) {
    if (!out.write(randomBytes(1 << 20))) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  const expectedSha1 = await sha1OfFile(original);
  for (const [name, client] of [["alice", alice], ["bob", bob], ["carol", carol]] as const) {
    const path = join(dir, name, "demo-file.bin");
    if (name !== "alice") await copyFile(original, path);
    const started = Date.now();
    await client.uploadFile(path, "demo");
    say(`${name.padEnd(6)} hashed and shared demo-file.bin in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  const [listed] = await dave.listFiles("demo");
  say(`list_files demo: ${listed!.fileName}, ${mib(listed!.size)}, sha1 ${listed!.sha1.slice(0, 12)}…, ${listed!.peersOnline} peers online`);

  step("dave downloads it from all three at once");
  const target = join(dir, "dave", "downloads");
  await mkdir(target, { recursive: true });
  const download = await dave.downloadFile("demo", "demo-file.bin", target);
  // Drawn on a terminal only; piped output gets the result lines alone. {total} is cli-progress's own
  // token (the bar's 100 steps), so the file's size goes in as {size}.
  const bar = new SingleBar({
    format: " {bar} {percentage}% | {done}/{size} MiB | {speed} MiB/s | {peers} peers",
    hideCursor: true,
  });
  const drawn = process.stdout.isTTY === true;
  if (drawn) bar.start(100, 0, { done: 0, size: options.sizeMb, speed: "0", peers: 0 });
  const poll = setInterval(() => {
    void dave.listDownloads().then((list) => {
      const current = list.find((d) => d.id === download.id);
      if (!current || !drawn) return;
      bar.update(Math.floor((current.bytesDone / current.size) * 100), {
        done: (current.bytesDone / 1048576).toFixed(0),
        speed: (current.bytesPerSecond / 1048576).toFixed(1),
        peers: current.activePeers,
      });
    });
  }, 200);
  const ended = await dave.waitForDownload(download.id);
  clearInterval(poll);
  if (drawn) {
    bar.update(ended.state === "complete" ? 100 : bar.getProgress() * 100, { done: (ended.bytesDone / 1048576).toFixed(0) });
    bar.stop();
  }
  if (ended.state !== "complete") throw new Error(`download ${ended.state}: ${ended.error?.message}`);
  const summary = ended.summary!;
  say(`done in ${(summary.durationMs / 1000).toFixed(2)} s, average ${mib(summary.averageBytesPerSecond)}/s`);
  for (const peer of summary.perPeer) {
    say(`  from ${peer.userId.padEnd(6)} ${peer.address.padEnd(16)} ${mib(peer.bytes).padStart(10)}  ${String(peer.pieces).padStart(5)} pieces`);
  }
  const actual = await sha1OfFile(ended.destination);
  say(`SHA1 of the downloaded file: ${actual} ${actual === expectedSha1 ? "= original ✔" : `≠ original ${expectedSha1} ✘`}`);
  if (actual !== expectedSha1) throw new Error("SHA1 mismatch");

  step("Tracker 1 dies (kill -9); the next command goes to tracker 2");
  trackers[0]!.kill("SIGKILL");
  await once(trackers[0]!, "exit");
  const files = await dave.listFiles("demo");
  const status = await dave.status();
  say(`list_files demo → ${files.map((f) => `${f.fileName} (${f.peersOnline} peers online)`).join(", ")}, answered by tracker ${status.tracker}`);
  const notice = (await readFile(join(dir, "dave.log"), "utf8")).split("\n").find((line) => line.includes("is not answering"));
  if (notice) say(`dave's agent noticed: ${(JSON.parse(notice) as { msg: string }).msg}`);
}

let failed = false;
try {
  await main();
  step("Done; cleaning up");
} catch (error) {
  failed = true;
  process.stderr.write(`error: ${(error as Error).message}\n`);
} finally {
  await Promise.all(Object.values(clients).map((client) => client.close()));
  await cleanUp();
}
process.exit(failed ? 1 : 0);
