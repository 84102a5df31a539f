import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { tmpdir } from "node:os";
import { FolderLayout } from "../../src/folder/layout.js";
import { folderReadAt } from "../../src/folder/read.js";

const dir = await mkdtemp(path.join(tmpdir(), "folder-read-"));
after(() => rm(dir, { recursive: true, force: true }));

const entries = [
  { path: "a.bin", size: 5 },
  { path: "empty", size: 0 },
  { path: "sub/b.bin", size: 3 },
  { path: "z.bin", size: 8 },
];
const stream = randomBytes(16);

async function folder(name: string): Promise<string> {
  const root = path.join(dir, name);
  await mkdir(path.join(root, "sub"), { recursive: true });
  await writeFile(path.join(root, "a.bin"), stream.subarray(0, 5));
  await writeFile(path.join(root, "empty"), "");
  await writeFile(path.join(root, "sub", "b.bin"), stream.subarray(5, 8));
  await writeFile(path.join(root, "z.bin"), stream.subarray(8, 16));
  return root;
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
