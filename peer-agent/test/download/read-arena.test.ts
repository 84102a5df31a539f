import { test } from "node:test";
import assert from "node:assert/strict";
import { ReadArena } from "../../src/download/read-arena.js";

const KiB = 1024;
const arena = () => new ReadArena({ bytes: 64 * KiB, minWindow: 16 * KiB, maxWindow: 32 * KiB });

/** A read of `bytes` into the arena's next window, with `unreadBefore` bytes already unread; returns the chunk. */
function read(into: ReadArena, bytes: number, unreadBefore: number): Buffer {
  return into.filled(into.window(), bytes, unreadBefore + bytes);
}

/** Whether two chunks share any byte of memory. */
function overlap(a: Buffer, b: Buffer): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;
}

test("reads that arrive while older ones are unread land after them and never over them", () => {
  const reads = arena();
  const unread: Buffer[] = [];
  for (let i = 0; i < 6; i++) {
    const chunk = read(reads, 16 * KiB, unread.reduce((sum, c) => sum + c.length, 0));
    for (const older of unread) assert.equal(overlap(chunk, older), false, `read ${i} overwrote an unread read`);
    unread.push(chunk);
  }
});

test("once every older read was taken, the arena is reused from its start", () => {
  const reads = arena();
  const first = read(reads, 32 * KiB, 0);
  read(reads, 24 * KiB, 0);
  const third = read(reads, 16 * KiB, 0);
  assert.ok(third.buffer === first.buffer && third.byteOffset === first.byteOffset, "the arena was not reused from its start");
});

test("a read gets a fresh buffer when the arena has no free window, and the arena is used again once all is taken", () => {
  const reads = arena();
  const a = read(reads, 32 * KiB, 0);
  const b = read(reads, 32 * KiB, 32 * KiB); // a is still unread
  const fresh = read(reads, 16 * KiB, 64 * KiB);
  assert.ok(fresh.buffer !== a.buffer, "a read landed in a full arena");
  assert.equal(overlap(b, a), false);
  read(reads, 16 * KiB, 0); // its window was chosen while the arena was full
  const again = read(reads, 16 * KiB, 0);
  assert.ok(again.buffer === a.buffer, "the arena was not used again");
});

test("bytes a reader gave back keep their memory: a window never reaches them until nothing older is unread", () => {
  const reads = arena();
  const given = read(reads, 32 * KiB, 0).subarray(16 * KiB); // the reader took the read and put its second half back
  const next = read(reads, 16 * KiB, given.length);
  const after = read(reads, 16 * KiB, given.length + next.length);
  for (const chunk of [next, after]) assert.equal(overlap(chunk, given), false);
});
