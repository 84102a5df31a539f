/**
 * A damaged state.json costs at most the last save: every save keeps the
 * previous file as state.json.bak, a state.json found empty, truncated or
 * foreign is moved aside and the agent goes on from the copy with a warning
 * naming both files, and when no copy is good the error names the file and
 * what is lost. The last tests start the real agent and client programs.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../core/free-port.js";
import { AgentStateStore, type ShareRecord } from "../src/state/agent-state.js";

const root = await mkdtemp(join(tmpdir(), "agent-state-"));
after(() => rm(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `state-${++dirs}`);

function share(fileName: string): ShareRecord {
  return {
    userId: "alice",
    file: { groupId: "movies", fileName, size: 10, sha1: "a".repeat(40), pieceSize: 524288, pieceHashes: ["b".repeat(40)] },
    path: `/somewhere/${fileName}`,
    verified: "gA==",
    checkedSize: 10,
    checkedMtimeMs: 0,
  };
}

/** A state dir whose state.json holds `first` then `second` (saved through the store), so state.json.bak holds `first`. */
async function savedTwice(dir: string): Promise<void> {
  const store = new AgentStateStore(dir, { saveDelayMs: 0 });
  await store.load();
  await store.createDir();
  store.put(share("first.mkv"));
  await store.flush();
  store.put(share("second.mkv"));
  await store.flush();
}

async function loaded(dir: string) {
  const warnings: string[] = [];
  const store = new AgentStateStore(dir, { onWarning: (line) => warnings.push(line) });
  await store.load();
  return { store, warnings, names: store.sharesOf("alice").map((s) => s.file.fileName).sort() };
}

test("every save keeps the state it replaces as state.json.bak", async () => {
  const dir = freshDir();
  await savedTwice(dir);
  const previous = JSON.parse(await readFile(join(dir, "state.json.bak"), "utf8")) as { shares: ShareRecord[] };
  assert.deepEqual(previous.shares.map((s) => s.file.fileName), ["first.mkv"]);
  assert.deepEqual((await loaded(dir)).names, ["first.mkv", "second.mkv"]);
});

const DAMAGED: [string, string][] = [["a truncated", '{"version":1,"shares":[{"userId":"al'], ["an empty", ""], ["a foreign", '{"hello":"world"}']];
for (const [damage, content] of DAMAGED) {
  test(`${damage} state.json is recovered from state.json.bak with a warning naming both files, and kept aside`, async () => {
    const dir = freshDir();
    await savedTwice(dir);
    await writeFile(join(dir, "state.json"), content);
    const { warnings, names } = await loaded(dir);
    assert.deepEqual(names, ["first.mkv"], "the last good copy's shares");
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]!.includes(join(dir, "state.json")) && warnings[0]!.includes(join(dir, "state.json.bak")), warnings[0]);
    const files = await readdir(dir);
    const aside = files.find((name) => name.startsWith("state.json.broken-"));
    assert.ok(aside, `the broken file is kept: ${files.join(", ")}`);
    assert.equal(await readFile(join(dir, aside), "utf8"), content);
    assert.deepEqual((await loaded(dir)).warnings, [], "the recovered state was written back: the next start is quiet");
  });
}

test("with no good copy, loading fails with STATE_UNRECOVERABLE naming the file and what is lost, and the next start begins empty", async () => {
  const dir = freshDir();
  await savedTwice(dir);
  await writeFile(join(dir, "state.json"), "{");
  await writeFile(join(dir, "state.json.bak"), "");
  await assert.rejects(loaded(dir), (error: Error & { code?: string }) => {
    assert.equal(error.code, "STATE_UNRECOVERABLE");
    assert.ok(error.message.includes(join(dir, "state.json")), error.message);
    assert.match(error.message, /lost: the files this agent shares .* unfinished downloads/);
    return true;
  });
  assert.deepEqual((await loaded(dir)).names, []);
});

/** Runs a program of this repo from source until it exits or prints `until`; resolves to its output and exit code. */
async function runProgram(main: string, args: string[], until?: RegExp): Promise<{ output: string; code: number | null }> {
  const child = spawn(process.execPath, ["--import", "tsx", main, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  const seen = new Promise<void>((resolve) => {
    const read = (chunk: Buffer) => {
      output += chunk;
      if (until?.test(output)) resolve();
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
  });
  const exited = once(child, "exit");
  const timeout = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await Promise.race([seen, exited]);
  if (child.exitCode === null) child.kill("SIGTERM");
  const [code] = await exited;
  clearTimeout(timeout);
  return { output, code };
}

test("the peer-agent program recovers a broken state.json with a warning in its log, and says in one error line what is lost when it cannot", async () => {
  const info = join(root, "tracker_info.txt");
  await writeFile(info, "127.0.0.1:9\n");
  const dir = freshDir();
  await savedTwice(dir);
  await writeFile(join(dir, "state.json"), '{"version":1,"sha');
  const port = await freePort();
  const recovered = await runProgram("peer-agent/src/main.ts", [`127.0.0.1:${port}`, info, "--state-dir", dir], /peer agent serving/);
  assert.match(recovered.output, /recovered from its last good copy/);
  assert.ok(recovered.output.includes(join(dir, "state.json")), recovered.output);

  const broken = freshDir();
  await savedTwice(broken);
  await writeFile(join(broken, "state.json"), "");
  await rm(join(broken, "state.json.bak"));
  const failed = await runProgram("peer-agent/src/main.ts", [`127.0.0.1:${port}`, info, "--state-dir", broken]);
  assert.equal(failed.code, 1);
  const line = failed.output.split("\n").find((l) => l.startsWith("error: "));
  assert.ok(line, failed.output);
  assert.ok(line.includes(join(broken, "state.json")) && line.includes("lost:"), line);
  assert.doesNotMatch(failed.output, /SyntaxError/);
});

test("the client says in one error line which state file is unreadable and what is lost", async () => {
  const info = join(root, "tracker_info.txt");
  await writeFile(info, "127.0.0.1:9\n");
  const dir = freshDir();
  await savedTwice(dir);
  await writeFile(join(dir, "state.json"), '{"version":1,"shares":[{"userId":"al');
  await rm(join(dir, "state.json.bak"));
  const port = await freePort();
  const { output, code } = await runProgram("cli/src/main.ts", [`127.0.0.1:${port}`, info, "--state-dir", dir]);
  assert.equal(code, 1);
  const errors = output.split("\n").filter((l) => l.startsWith("error: "));
  assert.equal(errors.length, 1, output);
  assert.ok(errors[0]!.includes(join(dir, "state.json")) && errors[0]!.includes("lost:"), errors[0]);
});
