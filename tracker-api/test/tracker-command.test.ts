import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { freePort } from "../../core/free-port.js";


function startTracker(args: string[]) {
  const child = spawn(process.execPath, ["--import", "tsx", "tracker-api/src/main.ts", ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const waitFor = async (pattern: RegExp, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(output)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output so far:\n${output}`);
      if (child.exitCode !== null) throw new Error(`tracker exited ${child.exitCode}:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { child, waitFor, output: () => output };
}

test("the tracker command serves line N of tracker_info.txt and stops cleanly on quit", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tracker-cmd-"));
  const port = await freePort();
  const info = join(dir, "tracker_info.txt");
  await writeFile(info, `# two trackers\n127.0.0.1 1\n127.0.0.1:${port}\n`);
  const tracker = startTracker([info, "2", "--data-dir", join(dir, "data")]);
  try {
    await tracker.waitFor(/tracker listening/);
    const created = await request(`http://127.0.0.1:${port}/users`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ userId: "alice", password: "pw" }),
    });
    assert.equal(created.statusCode, 201);
    await created.body.dump();
    const health = await request(`http://127.0.0.1:${port}/health`);
    assert.equal(((await health.body.json()) as { trackerId: string }).trackerId, "tracker-2");
    tracker.child.stdin.write("quit\n");
    const [code] = await once(tracker.child, "exit");
    assert.equal(code, 0);
    assert.match(tracker.output(), /stopped/);
  } finally {
    tracker.child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
});

test("a tracker number that is not in the file is one clear error line", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tracker-cmd-"));
  const info = join(dir, "tracker_info.txt");
  await writeFile(info, "127.0.0.1:6001\n");
  const tracker = startTracker([info, "5", "--data-dir", join(dir, "data")]);
  try {
    const [code] = await once(tracker.child, "exit");
    assert.equal(code, 1);
    assert.equal(tracker.output().trim(), 'error: tracker number must be between 1 and 1, got "5"');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
