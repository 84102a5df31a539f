import { test } from "node:test";
import assert from "node:assert/strict";
import { AGENT } from "../../src/config.js";
import { handedFileBounds, openFileLimit } from "../../src/folder/descriptor-budget.js";

test("a folder download leaves at most an eighth of the process's descriptor limit between its threads per stage", () => {
  assert.deepEqual(handedFileBounds(128), { made: 16, written: 16 });
  assert.deepEqual(handedFileBounds(2 ** 20), { made: AGENT.FOLDER_HANDED_FILES.made, written: AGENT.FOLDER_HANDED_FILES.written });
});

test("the descriptor limit is read from the process itself", () => {
  const limit = openFileLimit();
  assert.ok(Number.isInteger(limit) && limit > 0, String(limit));
});
