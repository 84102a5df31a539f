import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "undici";
import { freePort } from "../../core/free-port.js";
import { parseTrackerInfo } from "../../core/tracker-info.js";
import { TrackerClient } from "../../core/tracker-client.js";
import { createSelfSigned } from "../../peer-agent/src/tls/self-signed.js";

// Two trackers as processes, both serving HTTPS with a certificate for 127.0.0.1 that is its own test CA.
const dir = await mkdtemp(join(tmpdir(), "https-tracker-"));
const testCa = createSelfSigned("p2p test CA", "127.0.0.1");
await writeFile(join(dir, "cert.pem"), testCa.certPem);
await writeFile(join(dir, "key.pem"), testCa.keyPem, { mode: 0o600 });
const ports = [await freePort(), await freePort()];
const infoText = ports.map((port) => `https://127.0.0.1:${port}`).join("\n");
await writeFile(join(dir, "tracker_info.txt"), `${infoText}\n`);
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

async function startTracker(number: number): Promise<void> {
  const child = spawn(process.execPath, [
    "--import", "tsx", "tracker-api/src/main.ts", join(dir, "tracker_info.txt"), String(number),
    "--data-dir", join(dir, `data-${number}`),
    "--tls-cert", join(dir, "cert.pem"), "--tls-key", join(dir, "key.pem"), "--ca", join(dir, "cert.pem"),
  ], { stdio: ["pipe", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const deadline = Date.now() + 90_000; // a loaded machine (two cores, tests in parallel) starts a tracker slowly
  while (!/tracker listening/.test(output)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`tracker ${number} did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // A new database first asks the other tracker what it knows (503 TRACKER_RECOVERING to writes until then),
  // which may not be listening yet: the tests begin once /health no longer says recovering.
  const dispatcher = new Agent({ connect: { ca: testCa.certPem } });
  try {
    for (;;) {
      const answer = await request(`https://127.0.0.1:${ports[number - 1]}/health`, { dispatcher }).catch(() => undefined);
      const status = answer && ((await answer.body.json()) as { status?: string }).status;
      if (status !== undefined && status !== "recovering") break;
      if (Date.now() > deadline) throw new Error(`tracker ${number} stayed recovering:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await dispatcher.close();
  }
}
await Promise.all([startTracker(1), startTracker(2)]);

const only = (number: number) => parseTrackerInfo(infoText).filter((t) => t.number === number);

test("a tracker serves HTTPS with --tls-cert and --tls-key to a client that trusts its CA", async () => {
  const client = new TrackerClient(only(1), { ca: testCa.certPem, timeoutMs: 15_000 });
  try {
    await client.createUser({ userId: "alice", password: "correct horse" });
    const session = await client.login({ userId: "alice", password: "correct horse", peerAddress: "127.0.0.1:7001" });
    assert.equal(session.userId, "alice");
  } finally {
    await client.close();
  }
});

test("a client refuses a tracker whose certificate no CA it trusts has signed", async () => {
  const client = new TrackerClient(only(1), { timeoutMs: 2000 });
  try {
    await assert.rejects(client.createUser({ userId: "mallory", password: "pw" }), /no tracker is reachable \(tracker 1 \(127\.0\.0\.1:\d+\): DEPTH_ZERO_SELF_SIGNED_CERT\)/);
  } finally {
    await client.close();
  }
});

test("trackers replicate to each other over HTTPS: an account made on one logs in on the other", async () => {
  const first = new TrackerClient(only(1), { ca: testCa.certPem, timeoutMs: 15_000 });
  const second = new TrackerClient(only(2), { ca: testCa.certPem, timeoutMs: 15_000 });
  try {
    await first.createUser({ userId: "bob", password: "pw" });
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        assert.equal((await second.login({ userId: "bob", password: "pw", peerAddress: "127.0.0.1:7002" })).userId, "bob");
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } finally {
    await first.close();
    await second.close();
  }
});
