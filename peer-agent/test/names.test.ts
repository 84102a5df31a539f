/**
 * Names a filesystem or a person cannot use are refused when a file is
 * shared, before it is hashed; a download to `dir/` that does not exist makes
 * the directory. Real tracker, real agents.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startNetwork } from "./support/network.js";

const net = await startNetwork();
after(() => net.close());

const alice = await net.node("alice");
await alice.createUser("alice", "pw");
await alice.login("alice", "pw");
await alice.createGroup("movies");

test("sharing a file whose name is too long in UTF-8 bytes or holds a bidi or control character is refused before hashing", async () => {
  const dir = join(net.dir, "odd-names");
  await mkdir(dir);
  // Names a filesystem holds (at most 255 bytes) but not with ".part" after them.
  for (const name of ["é".repeat(127), `${"a".repeat(248)}.mkv`, "invoice\u202efdp.exe", "tab\u0009name", "mark\u200fname"]) {
    const path = join(dir, name);
    await writeFile(path, "x");
    let hashed = false;
    await assert.rejects(
      alice.uploadFile(path, "movies", () => (hashed = true)),
      (error: Error & { code?: string }) => error.code === "BAD_FILE_NAME" && error.message.includes(path),
      JSON.stringify(name),
    );
    assert.equal(hashed, false, "nothing was hashed");
  }
  assert.deepEqual(await alice.listFiles("movies"), [], "the tracker was never told");
});

test("a download to a destination ending in / that does not exist lands in that new directory under the file's name", async () => {
  const bob = await net.node("bob");
  await bob.createUser("bob", "pw");
  await bob.login("bob", "pw");
  await bob.joinGroup("movies");
  await alice.acceptRequest("movies", "bob");
  const data = randomBytes(700_000);
  const source = join(net.dir, "film.bin");
  await writeFile(source, data);
  await alice.uploadFile(source, "movies");

  const destination = join(net.dir, "dl10");
  const started = await bob.downloadFile("movies", "film.bin", `${destination}/`);
  const ended = await bob.waitForDownload(started.id);
  assert.equal(ended.state, "complete", JSON.stringify(ended.error));
  assert.ok((await readFile(join(destination, "film.bin"))).equals(data));
});
