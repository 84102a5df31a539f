import { test } from "node:test";
import assert from "node:assert/strict";
import { ValidationError } from "../../../core/errors.js";
import { cursorAfter, keyAfter, pageOf } from "../../src/domain/paging.js";

const invalidCursor = (error: unknown) => error instanceof ValidationError && error.code === "INVALID_CURSOR";

test("a cursor gives back the key it was made from, for its own list and group", () => {
  const cursor = cursorAfter("members", "movies", ["2026-11-25T10:00:00.000Z", "bob"]);
  assert.match(cursor, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(keyAfter(cursor, "members", "movies", 2), ["2026-11-25T10:00:00.000Z", "bob"]);
});

test("no cursor means the first page", () => {
  assert.equal(keyAfter(undefined, "files", "movies", 1), undefined);
});

test("a cursor of another list, another group or with another key length is refused", () => {
  const cursor = cursorAfter("files", "movies", ["a.bin"]);
  assert.throws(() => keyAfter(cursor, "groups", "", 1), invalidCursor);
  assert.throws(() => keyAfter(cursor, "files", "music", 1), invalidCursor);
  assert.throws(() => keyAfter(cursor, "files", "movies", 2), invalidCursor);
});

test("a cursor that is not base64url JSON of the expected shape is refused", () => {
  for (const text of ["plain text", "{\"after\":\"a.bin\"}", "[2,\"files\",\"movies\",\"a.bin\"]", "[1,\"files\",\"movies\",7]"]) {
    assert.throws(() => keyAfter(Buffer.from(text).toString("base64url"), "files", "movies", 1), invalidCursor, text);
  }
});

test("a page holds at most limit rows, with a cursor after its last row only when a row was left over", () => {
  const cursorOf = (last: number) => `after-${last}`;
  assert.deepEqual(pageOf([1, 2, 3], 2, (n) => n * 10, cursorOf), { items: [10, 20], nextCursor: "after-2" });
  assert.deepEqual(pageOf([1, 2], 2, (n) => n * 10, cursorOf), { items: [10, 20], nextCursor: null });
  assert.deepEqual(pageOf([], 2, (n: number) => n, cursorOf), { items: [], nextCursor: null });
});
