import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, truncate } from "node:fs/promises";
import * as path from "node:path";
import { tmpdir } from "node:os";
import { FolderLayout } from "../../src/folder/layout.js";
import { folderReadAt } from "../../src/folder/read.js";
import { smallFolder } from "./support/small-folder.js";

const dir = await mkdtemp(path.join(tmpdir(), "folder-read-"));
after(() => rm(dir, { recursive: true, force: true }));

const { entries, stream, writeTo } = smallFolder();

function folder(name: string): Promise<string> {
  return writeTo(path.join(dir, name));
}

function readAt(root: string, offset: number, length: number, position: number): Promise<{ bytes: number; buffer: Buffer }> {
  const buffer = Buffer.alloc(offset + length);
  return new Promise((resolve, reject) =>
    folderReadAt(root, new FolderLayout(entries))(-1, buffer, offset, length, position, (error, bytes) => (error ? reject(error) : resolve({ bytes, buffer }))),
  );
}

test("a read spanning several files fills the buffer from each, at the offset asked", async () => {
  const root = await folder("whole");
  const { bytes, buffer } = await readAt(root, 2, 12, 3);
  assert.equal(bytes, 12);
  assert.deepEqual(buffer.subarray(2), stream.subarray(3, 15));
});

test("a file shorter than the manifest says ends the read after its bytes", async () => {
  const root = await folder("short");
  await truncate(path.join(root, "sub", "b.bin"), 1);
  const { bytes, buffer } = await readAt(root, 0, 16, 0);
  assert.equal(bytes, 6);
  assert.deepEqual(buffer.subarray(0, 6), stream.subarray(0, 6));
});

test("a missing file fails the read", async () => {
  const root = await folder("missing");
  await rm(path.join(root, "z.bin"));
  await assert.rejects(readAt(root, 0, 16, 0), { code: "ENOENT" });
});
