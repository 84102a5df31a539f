import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { link, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { tmpdir } from "node:os";
import { FolderLayout } from "../../src/folder/layout.js";
import { TreeFiles } from "../../src/folder/tree-files.js";
import { CreateState, FolderCreator } from "../../src/folder/create-ahead.js";
import { folderFingerprint } from "../../src/folder/scan.js";

const dir = await mkdtemp(path.join(tmpdir(), "tree-files-"));
after(() => rm(dir, { recursive: true, force: true }));

const entries = [
  { path: "a.bin", size: 5 },
  { path: "empty", size: 0 },
  { path: "sub/deep/b.bin", size: 3 },
  { path: "sub/c.bin", size: 0 },
  { path: "z.bin", size: 8 },
];
const stream = randomBytes(16);
let trees = 0;

/** A fresh part tree, and fs calls counted: opens, and descriptors open now. */
async function fresh(maxOpen = 64) {
  const root = path.join(dir, `tree-${trees++}`);
  await mkdir(root);
  const counted = { opens: 0, open: 0, most: 0 };
  const countingFs = {
    ...fs,
    openSync: (...args: Parameters<typeof fs.openSync>) => {
      const fd = fs.openSync(...args);
      counted.opens++;
      counted.most = Math.max(counted.most, ++counted.open);
      return fd;
    },
    closeSync: (fd: number) => {
      counted.open--;
      fs.closeSync(fd);
    },
  } as typeof fs;
  return { root, counted, files: new TreeFiles({ fs: countingFs, path }, root, new FolderLayout(entries), maxOpen) };
}

test("a write spanning several files lands in each file at its offset, empty files made at the end", async () => {
  const { root, files } = await fresh();
  // Two "pieces" of 10 and 6 bytes, the second first: each is cut at the files' boundaries.
  files.write(stream.subarray(10), 6, 10);
  files.write(stream, 10, 0);
  files.createEmptyFiles();
  files.close();
  assert.deepEqual(await readFile(path.join(root, "a.bin")), stream.subarray(0, 5));
  assert.deepEqual(await readFile(path.join(root, "sub", "deep", "b.bin")), stream.subarray(5, 8));
  assert.deepEqual(await readFile(path.join(root, "z.bin")), stream.subarray(8, 16));
  assert.equal((await readFile(path.join(root, "empty"))).length, 0);
  assert.equal((await readFile(path.join(root, "sub", "c.bin"))).length, 0);
  assert.deepEqual((await readdir(root, { recursive: true })).sort(), ["a.bin", "empty", "sub", "sub/c.bin", "sub/deep", "sub/deep/b.bin", "z.bin"]);
});

test("a new instance after a restart writes the rest into the files an earlier one began, and finishes them", async () => {
  const { root, files } = await fresh();
  files.write(stream, 10, 0);
  files.close();
  const again = new TreeFiles({ fs, path }, root, new FolderLayout(entries), 64);
  again.markWritten(0, 10);
  again.write(stream.subarray(10), 6, 10);
  again.createEmptyFiles();
  const fingerprint = again.fingerprint();
  again.close();
  assert.deepEqual(await readFile(path.join(root, "z.bin")), stream.subarray(8, 16));
  assert.deepEqual(fingerprint, await folderFingerprint(root, entries));
});

test("no more descriptors are open at once than the bound, and a file is not reopened per write while it is cached", async () => {
  // One byte at a time, going round the three files, so all of them are being filled at once.
  const order = [0, 5, 8, 1, 6, 9, 2, 7, 10, 3, 11, 4, 12, 13, 14, 15];
  const bounded = await fresh(2);
  for (const position of order) bounded.files.write(stream.subarray(position), 1, position);
  bounded.files.close();
  assert.equal(bounded.counted.most, 2);
  assert.equal(bounded.counted.open, 0, "close() closes every descriptor");
  assert.deepEqual(await readFile(path.join(bounded.root, "z.bin")), stream.subarray(8, 16));

  const roomy = await fresh(64);
  for (const position of order) roomy.files.write(stream.subarray(position), 1, position);
  roomy.files.close();
  assert.equal(roomy.counted.opens, 3, "one open per file written to, not per write");
});

test("a symlink planted where a file goes is not written through", async () => {
  const { root, files } = await fresh();
  const target = path.join(dir, "victim.txt");
  await writeFile(target, "keep me");
  await symlink(target, path.join(root, "a.bin"));
  assert.throws(() => files.write(stream, 5, 0), /not a file this download made/);
  files.close();
  assert.equal(await readFile(target, "utf8"), "keep me");
});

test("a hard link planted where a file goes is not written through", async () => {
  const { root, files } = await fresh();
  const target = path.join(dir, "linked.txt");
  await writeFile(target, "keep me too");
  await link(target, path.join(root, "z.bin"));
  assert.throws(() => files.write(stream.subarray(8), 8, 8), /not a file this download made/);
  files.close();
  assert.equal(await readFile(target, "utf8"), "keep me too");
});

test("a symlink planted where a directory goes is not written through", async () => {
  const { root, files } = await fresh();
  const elsewhere = path.join(dir, "elsewhere");
  await mkdir(elsewhere);
  await symlink(elsewhere, path.join(root, "sub"));
  assert.throws(() => files.write(stream.subarray(5), 3, 5), /not a directory this download made/);
  files.close();
  assert.deepEqual(await readdir(elsewhere), []);
});

test("files made ahead by the creator thread are empty until their bytes come, and a name already taken is left to the writer's rules", async () => {
  const { root } = await fresh();
  const target = path.join(dir, "ahead-victim.txt");
  await writeFile(target, "untouched");
  await symlink(target, path.join(root, "z.bin"));
  const creator = new FolderCreator(root, entries);
  await creator.done;
  for (const entry of entries.filter((e) => e.path !== "z.bin")) assert.equal((await readFile(path.join(root, ...entry.path.split("/")))).length, 0, entry.path);
  assert.deepEqual([...creator.state.subarray(0, entries.length)], [CreateState.MADE, CreateState.MADE, CreateState.MADE, CreateState.MADE, CreateState.FAILED]);
  const files = new TreeFiles({ fs, path }, root, new FolderLayout(entries), 64, creator.state);
  files.write(stream, 8, 0);
  assert.throws(() => files.write(stream.subarray(8), 8, 8), /not a file this download made/);
  files.close();
  assert.deepEqual(await readFile(path.join(root, "sub", "deep", "b.bin")), stream.subarray(5, 8));
  assert.equal(await readFile(target, "utf8"), "untouched");
});

test("the writer claims the files the creator has not touched, and opens the ones it made without creating them again", async () => {
  const { root, counted } = await fresh();
  const creates = { count: 0 };
  const state = new Int32Array(new SharedArrayBuffer(4 * (entries.length + 1)));
  state[0] = CreateState.MADE; // a.bin, as the creator leaves it
  await writeFile(path.join(root, "a.bin"), "");
  const watchingFs = {
    ...fs,
    openSync: (file: fs.PathLike, flags: number) => {
      if (flags & fs.constants.O_CREAT) creates.count++;
      counted.opens++;
      return fs.openSync(file, flags);
    },
  } as typeof fs;
  const files = new TreeFiles({ fs: watchingFs, path }, root, new FolderLayout(entries), 64, state);
  files.write(stream, 16, 0);
  files.close();
  assert.equal(creates.count, 2, "sub/deep/b.bin and z.bin created, a.bin only opened");
  assert.equal(counted.opens, 3);
  assert.deepEqual([state[0], state[2], state[4]], [CreateState.MADE, CreateState.WRITER, CreateState.WRITER]);
  assert.deepEqual(await readFile(path.join(root, "a.bin")), stream.subarray(0, 5));
});

test("the fingerprint taken as each file's last byte is written is the one a stat pass finds", async () => {
  const { root, files } = await fresh();
  files.write(stream.subarray(10), 6, 10);
  files.write(stream, 10, 0);
  files.createEmptyFiles();
  const fingerprint = files.fingerprint();
  files.close();
  assert.ok(fingerprint);
  assert.deepEqual(fingerprint, await folderFingerprint(root, entries));
});

test("a file an earlier run wrote, found with another size than the manifest says, leaves no fingerprint", async () => {
  const { root, files } = await fresh();
  files.write(stream, 16, 0);
  files.createEmptyFiles();
  files.close();
  await writeFile(path.join(root, "empty"), "now it is not");
  const again = new TreeFiles({ fs, path }, root, new FolderLayout(entries), 64);
  again.markWritten(0, 16); // nothing left to write: every file is stat'ed
  assert.equal(again.fingerprint(), undefined);
  again.close();
});

test("a file is closed as soon as its last byte is written, and one still being filled stays open", async () => {
  const { counted, files } = await fresh();
  files.write(stream, 10, 0); // a.bin and sub/deep/b.bin end by byte 8; z.bin goes on to 16
  assert.equal(counted.open, 1);
  files.write(stream.subarray(10), 6, 10);
  assert.equal(counted.open, 0);
  files.close();
});
