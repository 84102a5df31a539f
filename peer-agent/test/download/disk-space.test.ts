import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Codes, InsufficientStorageError } from "../../../core/errors.js";
import { checkFreeSpace, writeFailure } from "../../src/download/disk-space.js";

const dir = await mkdtemp(join(tmpdir(), "disk-space-"));
after(() => rm(dir, { recursive: true, force: true }));

test("a download with more bytes to write than its disk has free is refused as DISK_FULL", async () => {
  const disk = await statfs(dir);
  await assert.rejects(checkFreeSpace(join(dir, "big.part"), disk.bavail * disk.bsize + 2 ** 30), (error: Error) => {
    assert.ok(error instanceof InsufficientStorageError);
    assert.equal(error.code, Codes.DISK_FULL);
    assert.match(error.message, /: \d+\.\d (KiB|MiB|GiB|TiB) to write, \d+\.\d (KiB|MiB|GiB|TiB) free$/);
    return true;
  });
});

test("a download that fits on its disk passes the check", async () => {
  await checkFreeSpace(join(dir, "small.part"), 1 << 20);
});

test("a piece write that found the disk full is DISK_FULL, and other write failures are not", () => {
  const full = writeFailure("/data/a.part", 7, "ENOSPC: no space left on device, write");
  assert.ok(full instanceof InsufficientStorageError);
  assert.equal(full.code, Codes.DISK_FULL);
  assert.match(full.message, /piece 7/);
  assert.equal(writeFailure("/data/a.part", 7, "EIO: i/o error, write"), undefined);
});
