import { test } from "node:test";
import assert from "node:assert/strict";
import { GroupFiles } from "../src/services/file-lists.js";

// A group's cached file list, cut into pages without any query.
const listOf = (count: number) => new GroupFiles("movies", "g:movies", 1, Array.from({ length: count }, (_, i) => ({
  fileName: `file-${String(i).padStart(5, "0")}.bin`, size: 1024, sha1: "a".repeat(40), pieceCount: 1, sharedBy: ["alice"], holders: ["alice"],
})));
const online = new Map([["alice", "127.0.0.1:7001"]]);

test("a page starts at the first file named after the cursor's file, whether or not that file is still listed", () => {
  const files = listOf(10);
  assert.deepEqual(files.pageBounds(undefined, 4), { start: 0, end: 4 });
  assert.deepEqual(files.pageBounds("file-00003.bin", 4), { start: 4, end: 8 });
  assert.deepEqual(files.pageBounds("file-00003.bin-gone", 4), { start: 4, end: 8 });
  assert.deepEqual(files.pageBounds("file-00008.bin", 4), { start: 9, end: 10 });
  assert.deepEqual(files.pageBounds("zzz", 4), { start: 10, end: 10 });
});

test("a page is serialized once while the same holders are online, and again when that changes", () => {
  const files = listOf(10);
  const first = files.answerFor(0, 4, online);
  assert.equal(files.answerFor(0, 4, online), first);
  const offline = files.answerFor(0, 4, new Map());
  assert.notEqual(offline, first);
  assert.equal(JSON.parse(offline.body.toString()).items[0].peersOnline, 0);
});

test("cached page bodies stay within their byte budget: pages asked for long ago make room", () => {
  const files = listOf(40_000);
  const first = files.answerFor(0, 1000, online);
  assert.ok(first.body.length > 100_000);
  for (let start = 1000; start < 40_000; start += 1000) files.answerFor(start, start + 1000, online);
  assert.notEqual(files.answerFor(0, 1000, online), first, "the first page was serialized again");
  const last = files.answerFor(39_000, 40_000, online);
  assert.equal(files.answerFor(39_000, 40_000, online), last);
});
