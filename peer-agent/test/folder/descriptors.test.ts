import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { mkdir, mkdtemp, readdir, readlink, rename, rm } from "node:fs/promises";
import * as path from "node:path";
import { tmpdir } from "node:os";
import { FileDescriptors } from "../../src/folder/descriptors.js";
import { FolderCreator } from "../../src/folder/create-ahead.js";
import { FolderLayout } from "../../src/folder/layout.js";
import { StreamHash } from "../../src/folder/stream-hash.js";
import { TreeFiles } from "../../src/folder/tree-files.js";
import { smallFolder } from "./support/small-folder.js";

const dir = await mkdtemp(path.join(tmpdir(), "descriptors-"));
after(() => rm(dir, { recursive: true, force: true }));

const { entries, stream } = smallFolder();
const sha1 = createHash("sha1").update(stream).digest("hex");
let trees = 0;

async function freshRoot(): Promise<string> {
  const root = path.join(dir, `tree-${trees++}`);
  await mkdir(root);
  return root;
}

/** Descriptors of this process open on something under `root`. */
async function openUnder(root: string): Promise<number> {
  let count = 0;
  for (const fd of await readdir("/proc/self/fd")) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => "");
    if (target.startsWith(root + path.sep)) count++;
  }
  return count;
}

/** fs with its path opens counted: a descriptor handed over is used without one. */
function countingFs(): { fs: typeof fs; opens: () => number } {
  let opens = 0;
  return {
    fs: { ...fs, openSync: (...args: Parameters<typeof fs.openSync>) => (opens++, fs.openSync(...args)) } as typeof fs,
    opens: () => opens,
  };
}

function markWritten(hash: StreamHash, piece: number): void {
  Atomics.store(hash.pieces.written, piece, 1);
  Atomics.add(hash.pieces.signal, 0, 1);
  Atomics.notify(hash.pieces.signal, 0);
}

test("past its bound the creator's descriptors are refused, and each one the writer claims makes room for the next", () => {
  const descriptors = FileDescriptors.forFiles(4);
  assert.equal(descriptors.offerMade(0, 100, 2), true);
  assert.equal(descriptors.offerMade(1, 101, 2), true);
  assert.equal(descriptors.offerMade(2, 102, 2), false);
  assert.equal(descriptors.claimMade(0), 100);
  assert.equal(descriptors.offerMade(2, 102, 2), true);
  assert.equal(descriptors.claimMade(3), -1, "a file the creator left no descriptor for");
});

test("when the creator and the writer both open a file, one descriptor is kept and the other is closed by its opener", () => {
  const descriptors = FileDescriptors.forFiles(2);
  // The creator's offer came first: the writer writes through it.
  descriptors.offerMade(0, 10, 8);
  assert.equal(descriptors.hold(0, 20), 10);
  // The writer's hold came first: the creator's offer is refused, and it closes its own.
  assert.equal(descriptors.hold(1, 21), 21);
  assert.equal(descriptors.offerMade(1, 11, 8), false);
  const closed: number[] = [];
  descriptors.closeAll((fd) => closed.push(fd));
  assert.deepEqual(closed, [10, 21]);
});

test("what the threads leave in the table is closed once, and a descriptor taken out is not closed again", () => {
  const descriptors = FileDescriptors.forFiles(3);
  descriptors.offerMade(0, 10, 8);
  descriptors.hold(1, 11);
  descriptors.hold(2, 12);
  assert.equal(descriptors.release(2), 12);
  const closed: number[] = [];
  descriptors.closeAll((fd) => closed.push(fd));
  descriptors.closeAll((fd) => closed.push(fd));
  assert.deepEqual(closed, [10, 11]);
});

test("each file with bytes is looked up by its path once: written through the creator's descriptor, read back through the writer's", async (t) => {
  const root = await freshRoot();
  const descriptors = FileDescriptors.forFiles(entries.length);
  const creator = new FolderCreator(root, entries, descriptors, 64);
  await creator.done;
  const counted = countingFs();
  const files = new TreeFiles({ fs: counted.fs, path }, root, new FolderLayout(entries), 64, creator.state, { descriptors, writtenLimit: 64 });
  // One piece holds the whole stream, so every file is written whole before the hashing thread reads any.
  const hash = new StreamHash(root, entries, stream.length, () => false, descriptors);
  t.after(() => hash.close());
  files.write(stream, stream.length, 0);
  files.createEmptyFiles();
  // The creator closes an empty file at once (nothing is written to it): the writer opens it to finish it.
  const empty = entries.filter((entry) => entry.size === 0).length;
  assert.equal(counted.opens(), empty, "the writer opened no file by its path but the empty ones");
  // Read back through descriptors, the files are found even with the tree moved away from its path.
  const moved = `${root}-moved`;
  await rename(root, moved);
  markWritten(hash, 0);
  assert.equal(await hash.digest(), sha1);
  files.close();
  assert.equal(await openUnder(moved), 0, "the hashing thread closed what it read");
  await rm(moved, { recursive: true });
});

test("a download stopped midway leaves none of its files open once the table is closed, whatever each thread held", async () => {
  const root = await freshRoot();
  const descriptors = FileDescriptors.forFiles(entries.length);
  const creator = new FolderCreator(root, entries, descriptors, 64);
  await creator.done;
  const files = new TreeFiles({ fs, path }, root, new FolderLayout(entries), 64, creator.state, { descriptors, writtenLimit: 64 });
  // a.bin written whole (handed on), z.bin half written (the writer's), the rest made and never claimed.
  files.write(stream, 12, 0);
  assert.ok((await openUnder(root)) >= 3);
  // The writer is stopped without closing anything, as a terminated worker is.
  descriptors.closeAll(fs.closeSync);
  assert.equal(await openUnder(root), 0);
});
