import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InsufficientStorageError } from "../../../core/errors.js";
import { reservationFailure, reserveSpace } from "../../src/download/reserve-space.js";

const dir = await mkdtemp(join(tmpdir(), "reserve-space-"));
after(() => rm(dir, { recursive: true, force: true }));

test("reserving space allocates the file's blocks (on Linux) and keeps the bytes already written", async () => {
  const path = join(dir, "part.bin");
  const size = 4 << 20;
  await writeFile(path, "verified piece");
  await reserveSpace(path, size);
  const info = await stat(path);
  if (process.platform === "linux") {
    assert.equal(info.size, size);
    assert.ok(info.blocks * 512 >= size, `${info.blocks * 512} bytes allocated`);
  } else assert.equal(info.size, 14);
  assert.equal((await readFile(path)).subarray(0, 14).toString(), "verified piece");
});

test("a full disk is reported as such, and other fallocate failures do not stop the download", () => {
  const full = reservationFailure("/data/a.part", 100, "fallocate: fallocate failed: No space left on device\n");
  assert.ok(full instanceof InsufficientStorageError);
  assert.equal(full.code, "DISK_FULL");
  assert.equal(reservationFailure("/data/a.part", 100, "fallocate: fallocate failed: Operation not supported\n"), undefined);
  assert.equal(reservationFailure("/data/a.part", 100, ""), undefined);
});
