import { test } from "node:test";
import assert from "node:assert/strict";
import { manifestProblem, MAX_MANIFEST_PATH_BYTES } from "../manifest.js";

const ok = (paths: string[]) => manifestProblem(paths.map((path) => ({ path, size: 1 })), paths.length, 100);

test("a manifest of relative paths with safe names, whose sizes add up, is accepted", () => {
  assert.equal(ok(["readme.txt", "week-1/slides.pdf", "week-1/a/b/c.md", "Übung ñ.txt"]), undefined);
  assert.equal(manifestProblem([{ path: "empty", size: 0 }], 0, 100), undefined);
});

test("a path that climbs out, is absolute, or has an empty, dot or hidden-character component is refused", () => {
  for (const path of ["../x", "a/../../x", "/etc/passwd", "a//b", "a/", "./a", "a/./b", "a\\b", "..", "a/\u202efdp.exe", "tab\there", "new\nline"]) {
    assert.match(ok([path]) ?? "", /manifest entry 1/, path);
  }
});

test("a path too long for the system, or a name too long for its filesystem, is refused", () => {
  assert.match(ok([`${"d/".repeat(MAX_MANIFEST_PATH_BYTES / 2)}x`]) ?? "", /bytes in UTF-8/);
  assert.match(ok([`a/${"é".repeat(130)}`]) ?? "", /bytes in UTF-8/);
});

test("paths that one filesystem would make one, or a file that is also a directory, are refused", () => {
  assert.match(ok(["A.txt", "a.txt"]) ?? "", /collides/);
  assert.match(ok(["caf\u00e9", "cafe\u0301"]) ?? "", /collides/);
  assert.match(ok(["x", "x/y"]) ?? "", /is a file/);
  assert.match(ok(["x/y", "x"]) ?? "", /collides/);
  assert.match(ok(["a", "a"]) ?? "", /collides/);
});

test("sizes that do not add up to the folder's size, bad sizes, no files or too many are refused", () => {
  assert.match(manifestProblem([{ path: "a", size: 2 }], 3, 100) ?? "", /add up to 2 bytes/);
  assert.match(manifestProblem([{ path: "a", size: -1 }], -1, 100) ?? "", /whole number/);
  assert.match(manifestProblem([{ path: "a", size: 1.5 }], 1.5, 100) ?? "", /whole number/);
  assert.match(manifestProblem([], 0, 100) ?? "", /no file/);
  assert.match(manifestProblem([{ path: "a", size: 1 }, { path: "b", size: 1 }], 2, 1) ?? "", /at most 1 files/);
});
