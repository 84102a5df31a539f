/**
 * The `client` command as a real process against a real tracker and real
 * peer nodes (in-test ones only where another member is needed).
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startNetwork } from "../../peer-agent/test/support/network.js";
import { freePort } from "../../core/free-port.js";

const net = await startNetwork();
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await net.close();
});
const infoPath = join(net.dir, "tracker_info.txt");
await writeFile(infoPath, `${net.trackers[0]!.host}:${net.trackers[0]!.port}\n`);


const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** stdin: lines to pipe in (then closed), "ignore", or "open": a pipe left open, as for a user who has not typed yet. */
function spawnTs(script: string, args: string[], stdin: string, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), join(ROOT, script), ...args], {
    stdio: [stdin === "ignore" ? "ignore" : "pipe", "pipe", "pipe"],
    cwd: options.cwd ?? ROOT,
    env: options.env ?? process.env,
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  if (stdin !== "ignore" && stdin !== "open") child.stdin!.end(stdin);
  const exited = once(child, "exit").then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, exited, output: () => stdout + stderr };
}

/** Runs `client …` with these lines piped in and waits for it to exit. */
function client(args: string[], lines: string[] = [], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return spawnTs("cli/src/main.ts", args, lines.map((line) => `${line}\n`).join(""), options).exited;
}

/** Starts `peer-agent …` and waits until it serves. */
async function startAgent(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const agent = spawnTs("peer-agent/src/main.ts", args, "ignore", options);
  const deadline = Date.now() + 20_000;
  while (!/peer agent serving/.test(agent.output())) {
    if (Date.now() > deadline || agent.child.exitCode !== null) assert.fail(`agent did not start:\n${agent.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return agent;
}

test("piped commands against a real tracker print their results, then the client logs out and exits 0", async () => {
  const port = await freePort();
  const result = await client(
    [`127.0.0.1:${port}`, infoPath, "--state-dir", join(net.dir, "pipe-alice")],
    ["create_user pipe-alice pw", "Login pipe-alice pw", "create_group pipe-movies", "list_groups"],
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, [
    "created user pipe-alice; log in with: login pipe-alice",
    "logged in as pipe-alice",
    "created group pipe-movies; you are its owner",
    "GROUP        OWNER       MEMBERS",
    "pipe-movies  pipe-alice        1",
    "logged out",
    "",
  ].join("\n"));
});

test("user ids are case-sensitive: Case-User is another account than case-user", async () => {
  const result = await client(
    [`127.0.0.1:${await freePort()}`, infoPath, "--state-dir", join(net.dir, "pipe-case")],
    ["create_user case-user pw", "create_user Case-User other", "login CASE-USER pw", "login Case-User other"],
  );
  assert.deepEqual(result.stdout.trimEnd().split("\n").slice(0, 4), [
    "created user case-user; log in with: login case-user",
    "created user Case-User; log in with: login Case-User",
    "error: wrong user id or password",
    "logged in as Case-User",
  ]);
});

test("piped input in which one command fails runs every line, then exits 1", async () => {
  const result = await client(
    [`127.0.0.1:${await freePort()}`, infoPath, "--state-dir", join(net.dir, "pipe-failing")],
    ["create_user pipe-failing pw", "login pipe-failing pw", "join_group no-such-group", "list_groups"],
  );
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stdout, /^error: group "no-such-group" does not exist; list_groups shows the groups\nGROUP +OWNER +MEMBERS\n/m);
  assert.equal(result.stdout.trimEnd().split("\n").at(-1), "logged out");
});

/**
 * `<prefix>-owner` shares `fileName` (random bytes) in `<prefix>-group` from an agent that stays up, and
 * `<prefix>-joiner` (password pw) is an accepted member, not logged in anywhere: for the client to log in as.
 */
async function sharedWithJoiner(prefix: string, fileName: string, bytes: number): Promise<Buffer> {
  const content = randomBytes(bytes);
  const source = join(net.dir, fileName);
  await writeFile(source, content);
  const owner = await net.node(`${prefix}-owner`);
  await owner.createUser(`${prefix}-owner`, "pw");
  await owner.login(`${prefix}-owner`, "pw");
  await owner.createGroup(`${prefix}-group`);
  await owner.uploadFile(source, `${prefix}-group`);
  const joiner = await net.node(`${prefix}-joiner-setup`);
  await joiner.createUser(`${prefix}-joiner`, "pw");
  await joiner.login(`${prefix}-joiner`, "pw");
  await joiner.joinGroup(`${prefix}-group`);
  await joiner.close();
  await owner.acceptRequest(`${prefix}-group`, `${prefix}-joiner`);
  return content;
}

test("at the end of piped input the client waits for its download, prints the summary and exits 0", async () => {
  const content = await sharedWithJoiner("dl", "clip.bin", 3 * 1024 * 1024 + 1000);
  const destination = join(net.dir, "downloads");
  await mkdir(destination);

  const result = await client(
    [`127.0.0.1:${await freePort()}`, infoPath, "--state-dir", join(net.dir, "pipe-joiner")],
    ["login dl-joiner pw", `download_file dl-group clip.bin ${destination}`],
  );
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trimEnd().split("\n");
  assert.match(lines[1]!, /^download started: \[dl-group\] clip\.bin -> .*downloads\/clip\.bin \(3\.0 MiB;/);
  assert.match(lines[2]!, /^download complete: \[dl-group\] clip\.bin -> .*downloads\/clip\.bin$/);
  assert.match(lines[3]!, /^ {2}3\.0 MiB in [\d.]+ s, average [\d.]+ [KMG]?i?B\/s, from 1 peer$/);
  assert.match(result.stdout, /^ {2}dl-owner +127\.0\.0\.1:\d+ +3\.0 MiB +7 +0$/m);
  assert.equal(lines.at(-1), "logged out");
  assert.ok((await readFile(join(destination, "clip.bin"))).equals(content), "the downloaded file differs");
});

test("download_file to a relative destination ending in / that does not exist makes it a directory, from the shell and from client --agent", async () => {
  const content = await sharedWithJoiner("slash", "slash.bin", 700_000);
  // Relative to the folder the user types in, which is not the agent's.
  const cwd = join(net.dir, "slash-cwd");
  await mkdir(cwd);

  const shell = await client(
    [`127.0.0.1:${await freePort()}`, infoPath, "--state-dir", join(net.dir, "slash-shell")],
    ["login slash-joiner pw", "download_file slash-group slash.bin fresh/sub/"],
    { cwd },
  );
  assert.equal(shell.code, 0, shell.stderr);
  assert.ok((await stat(join(cwd, "fresh", "sub"))).isDirectory(), "fresh/sub/ was not made a directory");
  assert.ok((await readFile(join(cwd, "fresh", "sub", "slash.bin"))).equals(content));

  const port = await freePort();
  const stateDir = join(net.dir, "slash-agent");
  const agent = await startAgent([`127.0.0.1:${port}`, infoPath, "--state-dir", stateDir]);
  const run = (...words: string[]) => client(["--agent", `127.0.0.1:${port}`, "--state-dir", stateDir, ...words], [], { cwd });
  assert.equal((await run("login", "slash-joiner", "pw")).code, 0);
  const started = await run("download_file", "slash-group", "slash.bin", "other/");
  assert.equal(started.code, 0, started.stderr);
  const landed = join(cwd, "other", "slash.bin");
  const deadline = Date.now() + 20_000;
  while (!(await stat(landed).catch(() => undefined)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok((await readFile(landed)).equals(content));
  agent.child.kill("SIGTERM");
  await agent.exited;
});

test("a malformed address exits 2 with one error line and a usage hint", async () => {
  const result = await client(["localhost", infoPath]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  assert.deepEqual(result.stderr.trimEnd().split("\n"), [
    'error: expected IP:PORT, e.g. 127.0.0.1:7001, got "localhost"',
    "(client --help explains the arguments)",
  ]);
});

test("a tracker_info.txt that cannot be read exits 2 with one error line", async () => {
  const result = await client(["127.0.0.1:7999", join(net.dir, "missing.txt")]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /^error: cannot read .*missing\.txt: ENOENT[^\n]*\n$/);
});

test("client --agent runs one command against a background agent: 0 done, 1 failed, 2 bad command", async () => {
  const port = await freePort();
  const stateDir = join(net.dir, "agent-x");
  const agent = await startAgent([`127.0.0.1:${port}`, infoPath, "--state-dir", stateDir]);
  const run = (...words: string[]) => client(["--agent", `127.0.0.1:${port}`, "--state-dir", stateDir, ...words]);

  const created = await run("create_user", "agent-user", "pw");
  assert.deepEqual([created.code, created.stdout], [0, "created user agent-user; log in with: login agent-user\n"]);

  const refused = await run("LOGIN", "agent-user", "wrong");
  assert.deepEqual([refused.code, refused.stdout, refused.stderr], [1, "", "error: wrong user id or password\n"]);

  assert.equal((await run("login", "agent-user", "pw")).code, 0);
  assert.equal((await run("create_group", "agent-group")).code, 0);
  const listed = await run("--json", "list_groups");
  assert.equal(listed.code, 0, listed.stderr);
  assert.ok((JSON.parse(listed.stdout) as { groupId: string }[]).some((group) => group.groupId === "agent-group"));

  const unknown = await run("list_grops");
  assert.deepEqual([unknown.code, unknown.stderr], [2, 'error: unknown command "list_grops"; did you mean list_groups? (help lists the commands)\n']);

  const noPassword = await run("login", "agent-user");
  assert.deepEqual([noPassword.code, noPassword.stderr], [2, "error: missing <password>; usage: login <user_id> <password> (it is asked without echo only on a terminal)\n"]);

  agent.child.kill("SIGTERM");
  await agent.exited;
});

test("client --agent with no agent running says how to start one and exits 1", async () => {
  const result = await client(["--agent", "127.0.0.1:7998", "--state-dir", join(net.dir, "nobody"), "list_groups"]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /^error: no agent is running with state dir .*; start one with peer-agent 127\.0\.0\.1:7998 tracker_info\.txt\n$/);
});

/** The environment of a user whose state directory (XDG_STATE_HOME) is `stateHome`. */
function userEnv(stateHome: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_STATE_HOME: stateHome };
  delete env.P2P_STATE_DIR;
  return env;
}

test("client --agent finds an agent started in another folder by its address alone", async () => {
  const env = userEnv(join(net.dir, "home-a", "state"));
  await mkdir(join(net.dir, "home-a", "started-here"), { recursive: true });
  await mkdir(join(net.dir, "home-a", "elsewhere"), { recursive: true });
  const port = await freePort();
  const agent = await startAgent([`127.0.0.1:${port}`, infoPath], { cwd: join(net.dir, "home-a", "started-here"), env });
  const result = await client(["--agent", `127.0.0.1:${port}`, "create_user", "found-by-address", "pw"], [], {
    cwd: join(net.dir, "home-a", "elsewhere"),
    env,
  });
  assert.deepEqual([result.code, result.stderr], [0, ""]);
  agent.child.kill("SIGTERM");
  await agent.exited;
});

test("an agent without --state-dir keeps its state in the user's state directory, not in the folder it was started from", async () => {
  const stateHome = join(net.dir, "home-b", "state");
  const cwd = join(net.dir, "home-b", "work");
  await mkdir(cwd, { recursive: true });
  const port = await freePort();
  const agent = await startAgent([`127.0.0.1:${port}`, infoPath], { cwd, env: userEnv(stateHome) });
  const stateDir = join(stateHome, "p2p-group-share", `peer-127.0.0.1-${port}`);
  assert.equal((await readFile(join(stateDir, "agent.pid"), "utf8")).trim(), String(agent.child.pid));
  assert.deepEqual(await readdir(cwd), []);
  agent.child.kill("SIGTERM");
  await agent.exited;
});

test("client --agent finds an agent started with its own --state-dir from any folder", async () => {
  const env = userEnv(join(net.dir, "home-c", "state"));
  const port = await freePort();
  const agent = await startAgent([`127.0.0.1:${port}`, infoPath, "--state-dir", join(net.dir, "home-c", "custom")], { env });
  const result = await client(["--agent", `127.0.0.1:${port}`, "create_user", "found-in-registry", "pw"], [], { cwd: net.dir, env });
  assert.deepEqual([result.code, result.stderr], [0, ""]);
  agent.child.kill("SIGTERM");
  await agent.exited;
});

test("client --agent ADDR stop stops the agent and returns once its process has ended", async () => {
  const env = userEnv(join(net.dir, "home-d", "state"));
  const port = await freePort();
  const agent = await startAgent([`127.0.0.1:${port}`, infoPath], { cwd: net.dir, env });
  const result = await client(["--agent", `127.0.0.1:${port}`, "stop"], [], { cwd: net.dir, env });
  assert.deepEqual([result.code, result.stdout, result.stderr], [0, `stopped the agent (pid ${agent.child.pid})\n`, ""]);
  assert.notEqual(agent.child.exitCode ?? agent.child.signalCode, null, "the agent's process has ended");
  assert.equal((await agent.exited).code, 0);
});

test("client --agent ADDR stop ends a client shell serving that address", async () => {
  const env = userEnv(join(net.dir, "home-e", "state"));
  const port = await freePort();
  const shell = spawnTs("cli/src/main.ts", [`127.0.0.1:${port}`, infoPath], "open", { cwd: net.dir, env });
  const stateDir = join(net.dir, "home-e", "state", "p2p-group-share", `peer-127.0.0.1-${port}`);
  const deadline = Date.now() + 20_000;
  while (!(await stat(join(stateDir, "control.json")).catch(() => undefined))) {
    if (Date.now() > deadline || shell.child.exitCode !== null) assert.fail(`the client did not start:\n${shell.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const result = await client(["--agent", `127.0.0.1:${port}`, "stop"], [], { cwd: net.dir, env });
  assert.equal(result.code, 0, result.stderr);
  assert.equal((await shell.exited).code, 0);
});

test("the client refuses to send a password to a plain-HTTP tracker off this machine before connecting, with one error line", async () => {
  // 192.0.2.1 (TEST-NET-1) is never reached: the refusal comes before any connection, or the error would be a timeout.
  const offMachine = join(net.dir, "tracker_info_remote.txt");
  await writeFile(offMachine, "192.0.2.1:6001\n");
  const result = await client([`127.0.0.1:${await freePort()}`, offMachine, "--state-dir", join(net.dir, "insecure-refused")], ["create_user remote pw"]);
  assert.equal(result.code, 1, result.stderr);
  assert.equal(
    result.stdout,
    "error: tracker 1 (192.0.2.1:6001) is plain HTTP on the network: your password would travel readable; list it as https://192.0.2.1:6001 or pass --insecure\n",
  );
});

test("change_password replaces the password: the old one is refused at the next login and the new one works", async () => {
  const result = await client(
    [`127.0.0.1:${await freePort()}`, infoPath, "--state-dir", join(net.dir, "pipe-passwords")],
    ["create_user pw-user old-pw", "login pw-user old-pw", "change_password old-pw new-pw", "logout", "login pw-user old-pw", "login pw-user new-pw"],
  );
  assert.equal(result.code, 1, "the login with the old password failed");
  assert.deepEqual(result.stdout.trimEnd().split("\n").slice(0, 6), [
    "created user pw-user; log in with: login pw-user",
    "logged in as pw-user",
    "password changed; your other sessions are logged out",
    "logged out; your files are shared again at your next login",
    "error: wrong user id or password",
    "logged in as pw-user",
  ]);
});

test("change_password with a wrong current password is one error line and exit 1", async () => {
  const result = await client(
    [`127.0.0.1:${await freePort()}`, infoPath, "--state-dir", join(net.dir, "pipe-wrong-pw")],
    ["create_user wrong-pw-user pw", "login wrong-pw-user pw", "change_password not-it new-pw"],
  );
  assert.equal(result.code, 1);
  assert.deepEqual(result.stdout.trimEnd().split("\n").slice(2, 4), ["error: the current password is wrong", "logged out"]);
});

test("remove_member by the owner takes the member out: the removed member's list_files is then refused", async () => {
  const result = await client(
    [`127.0.0.1:${await freePort()}`, infoPath, "--state-dir", join(net.dir, "pipe-remove")],
    [
      "create_user rm-owner pw", "create_user rm-member pw",
      "login rm-owner pw", "create_group rm-club", "logout",
      "login rm-member pw", "join_group rm-club", "logout",
      "login rm-owner pw", "accept_request rm-club rm-member", "remove_member rm-club rm-member", "logout",
      "login rm-member pw", "list_files rm-club",
    ],
  );
  assert.equal(result.code, 1, "the removed member's list_files failed");
  const lines = result.stdout.trimEnd().split("\n");
  assert.ok(lines.includes("removed rm-member from rm-club"), result.stdout);
  assert.match(lines.at(-2)!, /^error: .*not a member of "rm-club"/);
});

test("remove_member by a member who is not the owner is one error line and exit 1", async () => {
  const result = await client(
    [`127.0.0.1:${await freePort()}`, infoPath, "--state-dir", join(net.dir, "pipe-remove-not-owner")],
    [
      "create_user rmx-owner pw", "create_user rmx-member pw",
      "login rmx-owner pw", "create_group rmx-club", "logout",
      "login rmx-member pw", "join_group rmx-club", "logout",
      "login rmx-owner pw", "accept_request rmx-club rmx-member", "logout",
      "login rmx-member pw", "remove_member rmx-club rmx-owner",
    ],
  );
  assert.equal(result.code, 1);
  const errors = result.stdout.split("\n").filter((line) => line.startsWith("error:"));
  assert.deepEqual(errors, ['error: only the owner of "rmx-club" may remove another member; you can remove yourself']);
});
