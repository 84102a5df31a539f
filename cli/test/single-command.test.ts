import { test } from "node:test";
import assert from "node:assert/strict";
import { runSingleCommand } from "../src/single-command.js";

function run(words: string[], json = false) {
  let stdout = "";
  let stderr = "";
  let connected = false;
  const done = runSingleCommand({
    words,
    json,
    cwd: "/",
    connect: async () => {
      connected = true;
      throw new Error("no agent in this test");
    },
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  });
  return done.then((code) => ({ code, stdout, stderr, connected }));
}

test("help needs no agent and exits 0", async () => {
  const result = await run(["HELP", "download_file"]);
  assert.deepEqual(result, {
    code: 0,
    stdout:
      "usage: download_file <group_id> <file_name> <destination_path> [--sequential]\n" +
      "  download a file (or a shared folder, recreating its tree) from the peers of a group, in the background\n" +
      "  --sequential: fetch from the start of the file first, to play it while it downloads\n",
    stderr: "",
    connected: false,
  });
});

test("quit has no meaning for one command and exits 2 without connecting", async () => {
  const result = await run(["quit"]);
  assert.equal(result.code, 2);
  assert.equal(result.connected, false);
  assert.match(result.stderr, /^error: quit leaves the interactive shell; to stop a background agent use: client --agent <IP>:<PORT> stop\n$/);
});

test("a wrong number of arguments exits 2 without connecting", async () => {
  const result = await run(["join_group"]);
  assert.deepEqual([result.code, result.connected, result.stderr], [2, false, "error: missing <group_id>; usage: join_group <group_id>\n"]);
});

test("an agent that cannot be reached is one error line and exit 1", async () => {
  const result = await run(["list_groups"]);
  assert.deepEqual([result.code, result.connected, result.stderr], [1, true, "error: no agent in this test\n"]);
});
