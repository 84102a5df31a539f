import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { tmpdir } from "node:os";
import { StreamHash } from "../../src/folder/stream-hash.js";
import { smallFolder } from "./support/small-folder.js";

const dir = await mkdtemp(path.join(tmpdir(), "stream-hash-"));
after(() => rm(dir, { recursive: true, force: true }));

const { entries, stream, writeTo } = smallFolder();
const PIECE = 4;
const sha1 = createHash("sha1").update(stream).digest("hex");
let trees = 0;

function tree(): Promise<string> {
  return writeTo(path.join(dir, `tree-${trees++}`));
}

/** What the piece worker does once a piece is in its files. */
function markWritten(hash: StreamHash, piece: number): void {
  Atomics.store(hash.pieces.written, piece, 1);
  Atomics.add(hash.pieces.signal, 0, 1);
  Atomics.notify(hash.pieces.signal, 0);
}

test("the stream's SHA1 is read back from the files as pieces are marked written, in any order", async () => {
  const hash = new StreamHash(await tree(), entries, PIECE, () => false);
  for (const piece of [3, 1, 2]) {
    markWritten(hash, piece);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const settled = await Promise.race([hash.digest(), new Promise((resolve) => setTimeout(() => resolve("waiting"), 50))]);
  assert.equal(settled, "waiting", "piece 0 is not written yet");
  markWritten(hash, 0);
  assert.equal(await hash.digest(), sha1);
  await hash.close();
});

test("pieces an earlier run verified count as written from the start", async () => {
  const hash = new StreamHash(await tree(), entries, PIECE, (piece) => piece !== 2);
  markWritten(hash, 2);
  assert.equal(await hash.digest(), sha1);
  await hash.close();
});

test("a symlink planted in the part tree is not read through, even to the same bytes", async () => {
  const root = await tree();
  const elsewhere = path.join(dir, "same-bytes.bin");
  await writeFile(elsewhere, stream.subarray(8, 16));
  await rm(path.join(root, "z.bin"));
  await symlink(elsewhere, path.join(root, "z.bin"));
  const hash = new StreamHash(root, entries, PIECE, () => true);
  await assert.rejects(hash.digest(), /not a file this download made/);
  await hash.close();
});

test("closing it before every piece is written ends the thread, and no SHA1 is given", async () => {
  const hash = new StreamHash(await tree(), entries, PIECE, () => false);
  markWritten(hash, 0);
  await hash.close();
  await assert.rejects(hash.digest(), /stopped before the stream's end/);
});
