import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFile, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { readControlFile } from "../src/control/control-file.js";
import { connectToAgent } from "../src/control/client.js";
import { startNetwork } from "./support/network.js";
import { freePort } from "../../core/free-port.js";

const net = await startNetwork();
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await net.close();
});


function runAgent(args: string[]) {
  const child = spawn(process.execPath, ["--import", "tsx", "peer-agent/src/main.ts", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const waitFor = async (pattern: RegExp) => {
    const deadline = Date.now() + 20_000;
    while (!pattern.test(output)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${output}`);
      if (child.exitCode !== null && !pattern.test(output)) throw new Error(`agent exited ${child.exitCode}:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { child, waitFor, output: () => output };
}

const infoPath = join(net.dir, "tracker_info.txt");
await writeFile(infoPath, `${net.trackers[0]!.host}:${net.trackers[0]!.port}\n`);

test("a background agent is driven through its loopback control endpoint and stops on SIGTERM", async () => {
  const port = await freePort();
  const stateDir = join(net.dir, "agent-a");
  const agent = runAgent([`127.0.0.1:${port}`, infoPath, "--state-dir", stateDir]);
  await agent.waitFor(/peer agent serving/);

  const control = await readControlFile(stateDir);
  assert.equal(control?.agent, `127.0.0.1:${port}`);
  assert.equal((await stat(join(stateDir, "control.json"))).mode & 0o777, 0o600);

  const remote = await connectToAgent({ host: "127.0.0.1", port, stateDir });
  await remote.createUser("remote-user", "pw");
  const outcome = await remote.login("remote-user", "pw");
  assert.equal(outcome.userId, "remote-user");
  assert.equal((await remote.status()).userId, "remote-user");
  await assert.rejects(remote.createGroup("bad/id"), { status: 400 });
  await remote.close();

  agent.child.kill("SIGTERM");
  const [code] = await once(agent.child, "exit");
  assert.equal(code, 0);
  assert.equal(await readControlFile(stateDir), undefined, "control.json is removed on a clean stop");
});

test("the control endpoint refuses a caller without the token", async () => {
  const port = await freePort();
  const stateDir = join(net.dir, "agent-b");
  const agent = runAgent([`127.0.0.1:${port}`, infoPath, "--state-dir", stateDir]);
  await agent.waitFor(/peer agent serving/);
  const control = (await readControlFile(stateDir))!;
  const response = await request(`http://127.0.0.1:${control.controlPort}/rpc/status`, {
    method: "POST",
    headers: { authorization: "Bearer not-the-token", "content-type": "application/json" },
    body: "[]",
  });
  assert.equal(response.statusCode, 401);
  assert.equal(((await response.body.json()) as { code: string }).code, "CONTROL_TOKEN");
  agent.child.kill("SIGTERM");
  await once(agent.child, "exit");
});

test("a second agent on the same state directory is refused with one error line", async () => {
  const port = await freePort();
  const stateDir = join(net.dir, "agent-c");
  const first = runAgent([`127.0.0.1:${port}`, infoPath, "--state-dir", stateDir]);
  await first.waitFor(/peer agent serving/);
  const second = runAgent([`127.0.0.1:${await freePort()}`, infoPath, "--state-dir", stateDir]);
  const [code] = await once(second.child, "exit");
  assert.equal(code, 1);
  assert.match(second.output(), /^error: another agent \(pid \d+/m);
  first.child.kill("SIGTERM");
  await once(first.child, "exit");
});

test("a bad listening address is one error line, not a stack trace", async () => {
  const agent = runAgent(["not-an-address", infoPath]);
  const [code] = await once(agent.child, "exit");
  assert.notEqual(code, 0);
  assert.match(agent.output(), /expected IP:PORT/);
  assert.doesNotMatch(agent.output(), /\n\s+at /);
});

/** Runs the installed command, bin/peer-agent.js (built into dist/ by npm install), as a user's shell would. */
function runInstalledAgent(args: string[]) {
  const child = spawn(fileURLToPath(new URL("../../bin/peer-agent.js", import.meta.url)), args, { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  return { child, output: () => output };
}

async function waitForFile(path: string, child: ChildProcess, output: () => string): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const text = await readFile(path, "utf8").catch(() => undefined);
    if (text !== undefined) return text;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${path}:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`${signal} to the pid of the installed peer-agent command stops the agent and frees its port`, async () => {
    const port = await freePort();
    const stateDir = join(net.dir, `installed-${signal}`);
    const agent = runInstalledAgent([`127.0.0.1:${port}`, infoPath, "--state-dir", stateDir]);
    const pid = await waitForFile(join(stateDir, "agent.pid"), agent.child, agent.output);
    assert.equal(pid.trim(), String(agent.child.pid), "agent.pid names the process the user started");
    agent.child.kill(signal);
    const [code] = await once(agent.child, "exit");
    assert.equal(code, 0);
    await assert.rejects(request(`http://127.0.0.1:${port}/`), { code: "ECONNREFUSED" });
    await assert.rejects(stat(join(stateDir, "agent.pid")), { code: "ENOENT" });
  });
}

test("a start that fails because the address is in use leaves no state directory behind", async () => {
  const blocker = createServer();
  blocker.listen(0, "127.0.0.1");
  await once(blocker, "listening");
  const { port } = blocker.address() as AddressInfo;
  const stateDir = join(net.dir, "never-started");
  const agent = runAgent([`127.0.0.1:${port}`, infoPath, "--state-dir", stateDir]);
  const [code] = await once(agent.child, "exit");
  blocker.close();
  assert.equal(code, 1);
  assert.match(agent.output(), /^error: 127\.0\.0\.1:\d+ is already in use; choose another port$/m);
  await assert.rejects(stat(stateDir), { code: "ENOENT" });
});

test("peer-agent stop ADDR stops the agent serving that address and returns once it has exited", async () => {
  const port = await freePort();
  const agent = runAgent([`127.0.0.1:${port}`, infoPath, "--state-dir", join(net.dir, "stopped-by-command")]);
  await agent.waitFor(/peer agent serving/);
  const stopper = runAgent(["stop", `127.0.0.1:${port}`]);
  const [code] = await once(stopper.child, "exit");
  assert.equal(code, 0, stopper.output());
  assert.equal(stopper.output(), `stopped the agent (pid ${agent.child.pid})\n`);
  assert.notEqual(agent.child.exitCode ?? agent.child.signalCode, null, "the agent's process has ended");
});
