/**
 * The assignment's story end to end: two tracker processes and four client
 * processes on loopback, driven through their standard input with the
 * assignment's commands, as a user at four terminals would.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { readTrackerInfo } from "../../core/tracker-info.js";
import { TrackerClient } from "../../core/tracker-client.js";
import { freePort } from "../../core/free-port.js";
import { anyCertificate } from "../../peer-agent/test/support/agent-tls.js";

const dir = await mkdtemp(join(tmpdir(), "scenario-"));
const processes: ChildProcessWithoutNullStreams[] = [];
after(async () => {
  for (const child of processes) if (child.exitCode === null) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});


function run(script: string, args: string[]) {
  // The processes run in the scenario's directory, so tsx and the project's tsconfig are named explicitly.
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), script, ...args], {
    cwd: dir,
    env: { ...process.env, P2P_LOG_LEVEL: "warn", TSX_TSCONFIG_PATH: join(process.cwd(), "tsconfig.json") },
  });
  processes.push(child);
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  return { child, output: () => output };
}

/** A client process driven line by line: `say` sends a command and returns only what it printed in answer. */
async function startClient(name: string) {
  const port = await freePort();
  const proc = run(join(process.cwd(), "cli/src/main.ts"), [`127.0.0.1:${port}`, "tracker_info.txt", "--state-dir", `state-${name}`]);
  let seen = 0;
  const waitFor = async (pattern: RegExp, timeoutMs = 20_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const fresh = proc.output().slice(seen);
      const match = pattern.exec(fresh);
      if (match) {
        seen += match.index + match[0].length;
        return fresh.slice(0, match.index + match[0].length);
      }
      if (Date.now() > deadline || proc.child.exitCode !== null) {
        throw new Error(`${name}: waiting for ${pattern}, got:\n${fresh}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return {
    name,
    address: `127.0.0.1:${port}`,
    child: proc.child,
    waitFor,
    /** Sends one line and waits for the answer that matches `expect`. */
    async say(line: string, expect: RegExp): Promise<string> {
      proc.child.stdin.write(`${line}\n`);
      return waitFor(expect);
    },
  };
}

const sha1 = (data: Uint8Array) => createHash("sha1").update(data).digest("hex");

test("four users go through the assignment's commands against two trackers", async () => {
  const trackerPorts = [await freePort(), await freePort()];
  await writeFile(join(dir, "tracker_info.txt"), trackerPorts.map((p) => `127.0.0.1:${p}`).join("\n") + "\n");
  const trackers = [1, 2].map((n) => run(join(process.cwd(), "tracker-api/src/main.ts"), ["tracker_info.txt", String(n), "--data-dir", `tracker-${n}`]));
  for (const port of trackerPorts) {
    const deadline = Date.now() + 20_000;
    while (!(await request(`http://127.0.0.1:${port}/health`).then((r) => r.statusCode === 200, () => false))) {
      assert.ok(Date.now() < deadline, `tracker on ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const [alice, bob, carol, dave] = await Promise.all(["alice", "bob", "carol", "dave"].map(startClient));

  // accounts and login errors
  for (const client of [alice!, bob!, carol!, dave!]) {
    await client.say(`create_user ${client.name} ${client.name}-pw`, /created user \S+.*\n/);
  }
  await alice!.say("create_user alice again", /error: .*alice.*\n/);
  await alice!.say("login alice wrong-password", /error: wrong user id or password\n/);
  await alice!.say("list_groups", /error: not logged in.*\n/);
  for (const client of [alice!, bob!, carol!, dave!]) {
    await client.say(`login ${client.name} ${client.name}-pw`, new RegExp(`logged in as ${client.name}\\n`));
  }

  // a group, join requests accepted and rejected, owner-only and member-only refusals
  await alice!.say("create_group movies", /created group movies.*\n/);
  await bob!.say("create_group movies", /error: .*movies.*\n/);
  for (const client of [bob!, carol!, dave!]) await client.say("join_group movies", /movies.*\n/);
  await bob!.say("list_requests movies", /error: .*owner.*\n/);
  await bob!.say("accept_request movies carol", /error: .*owner.*\n/);
  assert.match(await alice!.say("list_requests movies", /dave.*\n/), /bob[\s\S]*carol[\s\S]*dave/);
  await alice!.say("reject_request movies dave", /dave.*\n/);
  await dave!.say("list_files movies", /error: .*member.*\n/);
  await alice!.say("accept_request movies bob", /bob.*\n/);
  await alice!.say("accept_request movies carol", /carol.*\n/);
  await dave!.say("join_group movies", /movies.*\n/);
  await alice!.say("accept_request movies dave", /dave.*\n/);
  assert.match(await carol!.say("LIST_GROUPS", /movies.*\n/), /movies\s+alice\s+4/);

  // the same 24 MiB file shared by three members
  const data = randomBytes(24 * 1024 * 1024 + 12345);
  for (const client of [alice!, bob!, carol!]) {
    await mkdir(join(dir, client.name));
    await writeFile(join(dir, client.name, "film.mkv"), data);
    await client.say(`upload_file ${client.name}/film.mkv movies`, /sharing film\.mkv.*\n/);
  }
  assert.match(await dave!.say("list_files movies", /film\.mkv.*\n/), /film\.mkv\s+24\.0 MiB\s+\S+\s+3/);

  // dave downloads it from all three, in the background
  await mkdir(join(dir, "dave", "downloads"), { recursive: true });
  dave!.child.stdin.write("download_file movies film.mkv dave/downloads\nShow_downloads\n");
  await dave!.waitFor(/download started: \[movies\] film\.mkv.*\n/);
  await dave!.waitFor(/\[D\] \[movies\] film\.mkv.*\n/);
  const summary = await dave!.waitFor(/download complete: \[movies\] film\.mkv[^\n]*\n[^\n]*from (\d+) peers\n(?:[^\n]*\n){4}/);
  assert.match(summary, /from 3 peers/);
  for (const name of ["alice", "bob", "carol"]) assert.match(summary, new RegExp(`${name}\\s`));
  assert.equal(sha1(await readFile(join(dir, "dave", "downloads", "film.mkv"))), sha1(data));
  await dave!.say("show_downloads", /\[C\] \[movies\] film\.mkv -> .*downloads\/film\.mkv  24\.0 MiB in .*, from 3 peers\n/);
  assert.match(await alice!.say("list_files movies", /film\.mkv.*\n/), /\s4\n$/);

  // stop_share, logout (nothing served) and login (served again)
  await carol!.say("stop_share movies film.mkv", /film\.mkv.*\n/);
  assert.match(await alice!.say("list_files movies", /film\.mkv.*\n/), /\s3\n$/);
  const outsider = new TrackerClient(await readTrackerInfo(join(dir, "tracker_info.txt")));
  await outsider.login({ userId: "dave", password: "dave-pw", peerAddress: "127.0.0.1:1" });
  const { grant, file } = await outsider.getPeers("movies", "film.mkv");
  // Agents serve TLS (certificate not checked here: pinning has its own tests).
  const bitfield = async () => (await request(`https://${alice!.address}/groups/movies/files/${file.sha1}/bitfield`, { dispatcher: anyCertificate, headers: { authorization: `Bearer ${grant}` } })).statusCode;
  assert.equal(await bitfield(), 200);
  await alice!.say("logout", /logged out.*\n/);
  assert.equal(await bitfield(), 404);
  assert.match(await bob!.say("list_files movies", /film\.mkv.*\n/), /\s2\n$/);
  await alice!.say("login alice alice-pw", /logged in as alice\nsharing 1 file again\n/);
  assert.equal(await bitfield(), 200);
  assert.match(await bob!.say("list_files movies", /film\.mkv.*\n/), /\s3\n$/);
  await outsider.close();

  // leave_group: bob stops sharing there and is no longer a member
  await bob!.say("leave_group movies", /movies.*\n/);
  await bob!.say("list_files movies", /error: .*member.*\n/);
  assert.match(await alice!.say("list_files movies", /film\.mkv.*\n/), /\s2\n$/);

  // tracker 1 dies: the next commands are answered by tracker 2, with one line of notice
  trackers[0]!.child.kill("SIGKILL");
  await once(trackers[0]!.child, "exit");
  const failover = await alice!.say("list_files movies", /film\.mkv.*\n/);
  assert.match(failover, /tracker 1 \(127\.0\.0\.1:\d+\) is not answering.*using tracker 2/);
  assert.equal(failover.split("\n").filter((line) => /tracker/.test(line)).length, 1);
  await dave!.say("list_groups", /movies\s+alice\s+3\n/);

  // end of input: every client logs out and exits; 1 for those that met an error above (alice, bob, dave)
  for (const client of [alice!, bob!, carol!, dave!]) client.child.stdin.end();
  const codes = await Promise.all([alice!, bob!, carol!, dave!].map(async (client) => (await once(client.child, "exit"))[0]));
  assert.deepEqual(codes, [1, 1, 0, 1]);
});
