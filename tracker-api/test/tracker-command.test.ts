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
  // 90 s, as the test clusters: at load average 20-40 on the shared 2-core machine a tracker took over 20 s to start.
  const waitFor = async (pattern: RegExp, timeoutMs = 90_000) => {
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

/** Starts `tracker tracker_info.txt <args…>` with a one-tracker file, expecting it to refuse: its exit code and output. */
async function refusedStart(args: string[]): Promise<{ code: number; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), "tracker-cmd-"));
  const info = join(dir, "tracker_info.txt");
  await writeFile(info, "127.0.0.1:6001\n");
  const tracker = startTracker([info, ...args, "--data-dir", join(dir, "data")]);
  try {
    const [code] = await once(tracker.child, "exit");
    return { code: code as number, output: tracker.output().trim() };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("a tracker number that is not in the file is one clear error line", async () => {
  assert.deepEqual(await refusedStart(["5"]), { code: 1, output: 'error: tracker number must be between 1 and 1, got "5"' });
});

async function post(url: string, body: unknown, token?: string): Promise<{ status: number; body: { code?: string; token?: string } }> {
  const response = await request(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.statusCode, body: (await response.body.json()) as { code?: string; token?: string } };
}

test("the tracker command's quota flags set the quotas: --max-groups-per-user 2 refuses a user's third group with 403 QUOTA_EXCEEDED", async () => {
  const dir = await mkdtemp(join(tmpdir(), "tracker-cmd-"));
  const port = await freePort();
  const info = join(dir, "tracker_info.txt");
  await writeFile(info, `127.0.0.1:${port}\n`);
  const tracker = startTracker([info, "1", "--data-dir", join(dir, "data"), "--max-groups-per-user", "2", "--max-files-per-user", "5", "--max-pending-requests", "7"]);
  try {
    await tracker.waitFor(/tracker listening/);
    const base = `http://127.0.0.1:${port}`;
    assert.equal((await post(`${base}/users`, { userId: "alice", password: "pw" })).status, 201);
    const { token } = (await post(`${base}/sessions`, { userId: "alice", password: "pw", peerAddress: "127.0.0.1:7001" })).body;
    assert.equal((await post(`${base}/groups`, { groupId: "one" }, token)).status, 201);
    assert.equal((await post(`${base}/groups`, { groupId: "two" }, token)).status, 201);
    const third = await post(`${base}/groups`, { groupId: "three" }, token);
    assert.equal(third.status, 403);
    assert.equal(third.body.code, "QUOTA_EXCEEDED");
  } finally {
    tracker.child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
});

test("a quota flag that is not a positive whole number is one clear error line and exit code 1", async () => {
  assert.deepEqual(await refusedStart(["1", "--max-files-per-user", "0"]), {
    code: 1, output: "error: option '--max-files-per-user <n>' argument '0' is invalid. must be a positive whole number",
  });
});
