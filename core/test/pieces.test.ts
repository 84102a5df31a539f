import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashFile, hashStream, pieceBounds, pieceCount, PIECE_SIZE } from "../pieces.js";
import { Bitfield } from "../bitfield.js";

test("hashing a file gives the whole-file SHA1 and one SHA1 per 512 KiB piece", async () => {
  const dir = await mkdtemp(join(tmpdir(), "pieces-"));
  try {
    const data = randomBytes(PIECE_SIZE * 2 + 1000);
    const path = join(dir, "f.bin");
    await writeFile(path, data);
    const seen: number[] = [];
    const digest = await hashFile(path, (done) => seen.push(done));
    assert.equal(digest.sha1, createHash("sha1").update(data).digest("hex"));
    assert.equal(digest.pieceHashes.length, 3);
    const last = pieceBounds(2, data.length);
    assert.equal(digest.pieceHashes[2], createHash("sha1").update(data.subarray(last.start, last.end)).digest("hex"));
    assert.equal(seen.at(-1), data.length);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("files hashed as one stream give the digest of their bytes one after the other, pieces spanning files", async () => {
  const dir = await mkdtemp(join(tmpdir(), "pieces-"));
  try {
    const parts = [randomBytes(1000), Buffer.alloc(0), randomBytes(PIECE_SIZE), randomBytes(77)];
    const files = await Promise.all(parts.map(async (data, i) => {
      const path = join(dir, `f${i}`);
      await writeFile(path, data);
      return { path, size: data.length };
    }));
    await writeFile(join(dir, "all"), Buffer.concat(parts));
    assert.deepEqual(await hashStream(files), await hashFile(join(dir, "all")));
    await writeFile(files[3]!.path, randomBytes(78));
    await assert.rejects(hashStream(files), /changed while it was being hashed/);
    await writeFile(files[3]!.path, randomBytes(76));
    await assert.rejects(hashStream(files), /changed while it was being hashed/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("an empty file has no pieces", () => {
  assert.equal(pieceCount(0), 0);
  assert.equal(pieceCount(1), 1);
  assert.equal(pieceCount(PIECE_SIZE), 1);
  assert.equal(pieceCount(PIECE_SIZE + 1), 2);
});

test("a bitfield round-trips through base64 and counts its pieces", () => {
  const field = new Bitfield(11);
  field.set(0);
  field.set(10);
  const copy = Bitfield.fromBase64(11, field.toBase64());
  assert.equal(copy.count, 2);
  assert.ok(copy.has(0) && copy.has(10) && !copy.has(5));
  assert.deepEqual(copy.missing().length, 9);
});

test("a bitfield ignores spare bits set by a lying peer", () => {
  const field = new Bitfield(3, Uint8Array.of(0xff));
  assert.equal(field.count, 3);
  assert.ok(field.complete);
});
