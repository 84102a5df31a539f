import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommanderError } from "commander";
import { parsePeerAgentArgs } from "../../peer-agent/src/config.js";
import { loadTrackers, parseClientArgs, type ShellArgs } from "../src/args.js";

/** A working directory that exists nowhere: parsing only resolves paths against it. */
const CWD = join(tmpdir(), "client-args-cwd");

/** Parses with stderr captured; returns the thrown CommanderError and what was printed. */
function parseFails(argv: string[]): { error: CommanderError; printed: string } {
  let printed = "";
  try {
    parseClientArgs(argv, { cwd: CWD, env: {}, writeErr: (text) => (printed += text), writeOut: (text) => (printed += text) });
  } catch (error) {
    assert.ok(error instanceof CommanderError, `expected a CommanderError, got ${String(error)}`);
    return { error, printed };
  }
  assert.fail(`parsing ${argv.join(" ")} should have failed`);
}

test("the shell form takes the address to serve on and tracker_info.txt", () => {
  const args = parseClientArgs(["127.0.0.1:7001", "info/tracker_info.txt"], { cwd: CWD, env: {} });
  assert.deepEqual({ ...args, stateDir: undefined }, {
    mode: "shell", host: "127.0.0.1", port: 7001, trackerInfoPath: join(CWD, "info", "tracker_info.txt"), json: false, stateDir: undefined, insecure: false,
  });
});

test("--state-dir and --json may come after the arguments", () => {
  const args = parseClientArgs(["127.0.0.1:7001", "t.txt", "--state-dir", "s", "--json"], { cwd: CWD });
  assert.equal(args.stateDir, join(CWD, "s"));
  assert.equal(args.json, true);
});

test("the default state directory is the one peer-agent uses for the same address", () => {
  const client = parseClientArgs(["127.0.0.1:7001", "t.txt"], { env: {} });
  const agent = parsePeerAgentArgs(["127.0.0.1:7001", "t.txt"], {});
  assert.equal(client.stateDir, agent.stateDir);
  const other = parseClientArgs(["127.0.0.1:7002", "t.txt"], { env: {} });
  assert.notEqual(other.stateDir, client.stateDir);
});

test("the agent form takes the command and its arguments as given, dashes included", () => {
  const args = parseClientArgs(["--agent", "127.0.0.1:7001", "--json", "login", "alice", "-pw-"], { env: {} });
  assert.equal(args.mode, "agent");
  assert.equal(args.json, true);
  assert.deepEqual(args.mode === "agent" && args.command, ["login", "alice", "-pw-"]);
  assert.equal(args.stateDir, undefined, "without --state-dir the agent is looked up by its address");
});

test("without --state-dir the state lives in the user's state directory, one folder per address", () => {
  const args = parseClientArgs(["127.0.0.1:7001", "t.txt"], { cwd: CWD, env: { XDG_STATE_HOME: "/state-home" } });
  assert.equal(args.stateDir, join("/state-home", "p2p-group-share", "peer-127.0.0.1-7001"));
});

test("a .p2p state directory that earlier versions made in the working folder is still used", async () => {
  const cwd = await mkdtemp(join(tmpdir(), "client-args-legacy-"));
  try {
    await mkdir(join(cwd, ".p2p", "peer-127.0.0.1-7001"), { recursive: true });
    const args = parseClientArgs(["127.0.0.1:7001", "t.txt"], { cwd, env: { XDG_STATE_HOME: "/state-home" } });
    assert.equal(args.stateDir, join(cwd, ".p2p", "peer-127.0.0.1-7001"));
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test("a malformed address is one error line with a usage hint and exit code 2", () => {
  const { error, printed } = parseFails(["localhost", "t.txt"]);
  assert.equal(error.exitCode, 2);
  const lines = printed.trimEnd().split("\n");
  assert.match(lines[0]!, /^error: expected IP:PORT, e\.g\. 127\.0\.0\.1:7001, got "localhost"$/);
  assert.equal(lines[1], "(client --help explains the arguments)");
  assert.equal(lines.length, 2);
});

test("a missing tracker_info.txt is refused with exit code 2", () => {
  const { error, printed } = parseFails(["127.0.0.1:7001"]);
  assert.equal(error.exitCode, 2);
  assert.match(printed, /^error: missing <tracker_info\.txt>/);
});

test("nothing at all is refused with exit code 2", () => {
  const { error, printed } = parseFails([]);
  assert.equal(error.exitCode, 2);
  assert.match(printed, /^error: missing <IP>:<PORT>/);
});

test("extra words in the shell form point to --agent", () => {
  const { error, printed } = parseFails(["127.0.0.1:7001", "t.txt", "list_groups"]);
  assert.equal(error.exitCode, 2);
  assert.match(printed, /^error: too many arguments \("list_groups"\); to send a command to a running agent use --agent/);
});

test("an unknown option is refused with exit code 2", () => {
  const { error, printed } = parseFails(["127.0.0.1:7001", "t.txt", "--stat-dir", "x"]);
  assert.equal(error.exitCode, 2);
  assert.match(printed, /^error: unknown option '--stat-dir'/);
});

test("--agent without a command is refused with an example", () => {
  const { error, printed } = parseFails(["--agent", "127.0.0.1:7001"]);
  assert.equal(error.exitCode, 2);
  assert.match(printed, /^error: missing the command to send to the agent, e\.g\. client --agent 127\.0\.0\.1:7001 list_groups/);
});

test("--agent needs a real port", () => {
  assert.equal(parseFails(["--agent", "127.0.0.1:0", "list_groups"]).error.exitCode, 2);
});

test("--help prints both forms and exits 0", () => {
  const { error, printed } = parseFails(["--help"]);
  assert.equal(error.exitCode, 0);
  assert.match(printed, /client <IP>:<PORT> <tracker_info\.txt>/);
  assert.match(printed, /client --agent <IP>:<PORT>/);
});

test("tracker_info.txt is read with the shared parser, errors naming the line", async () => {
  const dir = await mkdtemp(join(tmpdir(), "client-args-"));
  try {
    const path = join(dir, "tracker_info.txt");
    await writeFile(path, "127.0.0.1:6001\n127.0.0.1 6002\n");
    const args = parseClientArgs(["127.0.0.1:7001", path]) as ShellArgs;
    assert.deepEqual((await loadTrackers(args)).map((t) => t.url), ["http://127.0.0.1:6001", "http://127.0.0.1:6002"]);
    await writeFile(path, "127.0.0.1:6001\nnonsense\n");
    await assert.rejects(loadTrackers(args), /line 2/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
