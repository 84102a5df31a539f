/**
 * The README's "Fetching pieces from another program" commands work as
 * printed: run with bash and curl against a real tracker and a real agent
 * that shares the file, they fetch piece 0 and the whole file byte for byte.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startNetwork } from "./support/network.js";

const run = promisify(execFile);
const net = await startNetwork();
after(() => net.close());

/** The first sh block of the README section with this heading. */
async function readmeBlock(heading: string): Promise<string> {
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  const section = readme.split(`\n## ${heading}\n`)[1];
  assert.ok(section, `the README has a section "${heading}"`);
  const block = /```sh\n([\s\S]*?)```/.exec(section.split("\n## ")[0]!)?.[1];
  assert.ok(block, `the README section "${heading}" has a sh block`);
  return block;
}

test("the README's curl commands fetch a piece and the whole file from an agent with a tracker's grant", async () => {
  const alice = await net.node("alice");
  const bob = await net.node("bob");
  await alice.createUser("alice", "pw");
  await alice.login("alice", "pw");
  await bob.createUser("bob", "pw");
  await alice.createGroup("movies");
  await bob.login("bob", "pw");
  await bob.joinGroup("movies");
  await alice.acceptRequest("movies", "bob");
  const data = randomBytes(512 * 1024 + 1000);
  const source = join(net.dir, "film.mkv");
  await writeFile(source, data);
  await alice.uploadFile(source, "movies");

  const tracker = `${net.trackers[0]!.host}:${net.trackers[0]!.port}`;
  const script = (await readmeBlock("Fetching pieces from another program")).replace("TRACKER=127.0.0.1:6001", `TRACKER=${tracker}`);
  assert.notEqual(script.indexOf(`TRACKER=${tracker}`), -1, "the block names the tracker the way this test replaces");
  const cwd = await mkdtemp(join(tmpdir(), "readme-curl-"));
  try {
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], { cwd, timeout: 30_000 });
    assert.deepEqual(JSON.parse(stdout.trim()).piecesHeld, 2, "the bitfield line prints what the agent holds");
    assert.ok((await readFile(join(cwd, "piece0"))).equals(data.subarray(0, 524288)), "piece 0 is the first 512 KiB");
    assert.ok((await readFile(join(cwd, "film.mkv"))).equals(data), "the whole file is the file");
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});
