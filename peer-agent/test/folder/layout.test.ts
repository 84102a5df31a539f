import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { FolderLayout } from "../../src/folder/layout.js";

const layout = new FolderLayout([
  { path: "a", size: 3 },
  { path: "empty", size: 0 },
  { path: "b", size: 5 },
  { path: "c", size: 0 },
  { path: "d", size: 2 },
]);

test("a stream position is found in the file that holds it, never in an empty file", () => {
  assert.equal(layout.size, 10);
  assert.deepEqual([0, 2, 3, 7, 8, 9].map((p) => layout.fileAt(p)), [0, 0, 2, 2, 4, 4]);
  assert.throws(() => layout.fileAt(10), RangeError);
  assert.throws(() => layout.fileAt(-1), RangeError);
});

test("a range of the stream is cut into one run per file it touches, empty files skipped", () => {
  assert.deepEqual(layout.segments(2, 7), [
    { index: 0, offset: 2, length: 1 },
    { index: 2, offset: 0, length: 5 },
    { index: 4, offset: 0, length: 1 },
  ]);
  assert.deepEqual(layout.segments(4, 2), [{ index: 2, offset: 1, length: 2 }]);
  assert.deepEqual(layout.segments(0, 0), []);
});

test("the runs of any range cover exactly its bytes, in order, each inside its file", () => {
  fc.assert(
    fc.property(fc.array(fc.nat(20), { minLength: 1, maxLength: 30 }), fc.nat(1000), fc.nat(1000), (sizes, a, b) => {
      const total = sizes.reduce((sum, size) => sum + size, 0);
      fc.pre(total > 0);
      const folder = new FolderLayout(sizes.map((size, i) => ({ path: `f${i}`, size })));
      const start = a % total;
      const length = Math.min(b, total - start);
      let position = start;
      for (const run of folder.segments(start, length)) {
        assert.equal(folder.startOf(run.index) + run.offset, position);
        assert.ok(run.length > 0 && run.offset + run.length <= sizes[run.index]!);
        position += run.length;
      }
      assert.equal(position, start + length);
    }),
  );
});
