import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
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

test("a destination in a directory that does not exist says to create it", async () => {
  await assert.rejects(resolveDestination("missing/", "a.txt", dir), { code: "NO_SUCH_DIRECTORY" });
  await assert.rejects(resolveDestination("missing/a.txt", "a.txt", dir), { code: "NO_SUCH_DIRECTORY" });
});
