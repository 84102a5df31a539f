/**
 * `npm start` as a person runs it, with its output piped (as into a file or
 * `less`): the whole demo on a small file, from the built dist/.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

test("the demo's piped output is plain text with no escape codes", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/demo.ts", "--size-mb", "2"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const [code] = await once(child, "exit");
  assert.equal(code, 0, stderr);
  assert.match(stdout, /SHA1 of the downloaded file: [0-9a-f]{40} = original/);
  assert.doesNotMatch(stdout + stderr, /\u001b/);
});
