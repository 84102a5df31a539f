import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveDestination } from "../src/destination.js";

const dir = await mkdtemp(join(tmpdir(), "destination-"));
after(() => rm(dir, { recursive: true, force: true }));
await mkdir(join(dir, "downloads"));

test("a directory destination keeps the file's name inside it", async () => {
  assert.equal(await resolveDestination("downloads", "movie.mkv", dir), join(dir, "downloads", "movie.mkv"));
});

test("a file destination is used as the file's path", async () => {
  assert.equal(await resolveDestination("downloads/renamed.mkv", "movie.mkv", dir), join(dir, "downloads", "renamed.mkv"));
});

test("a file name from the tracker that would escape the destination directory is refused", async () => {
  for (const name of ["../escape", "..", "a/b", "..\\win", "x\u0000y"]) {
    await assert.rejects(resolveDestination("downloads", name, dir), { code: "UNSAFE_FILE_NAME" }, name);
  }
});

test("an existing file is never a destination", async () => {
  await writeFile(join(dir, "downloads", "kept.txt"), "mine");
  await assert.rejects(resolveDestination("downloads", "kept.txt", dir), { code: "DESTINATION_EXISTS" });
  await assert.rejects(resolveDestination("downloads/kept.txt", "other.txt", dir), { code: "DESTINATION_EXISTS" });
});

test("a file destination in a directory that does not exist says to create it", async () => {
  await assert.rejects(resolveDestination("missing/a.txt", "a.txt", dir), { code: "NO_SUCH_DIRECTORY" });
});

test("a destination ending in / that does not exist is made a directory that keeps the file's name", async () => {
  assert.equal(await resolveDestination("dl10/", "a.txt", dir), join(dir, "dl10", "a.txt"));
  assert.ok((await stat(join(dir, "dl10"))).isDirectory());
  assert.equal(await resolveDestination("deeper/still/", "a.txt", dir), join(dir, "deeper", "still", "a.txt"));
});

test("a destination ending in / that is an existing file is refused, not replaced", async () => {
  await writeFile(join(dir, "plain"), "x");
  await assert.rejects(resolveDestination("plain/", "a.txt", dir), { code: "DESTINATION_EXISTS" });
});
