import { test } from "node:test";
import assert from "node:assert/strict";
import { parseTrackerInfo, selectTracker } from "../tracker-info.js";
import { ValidationError } from "../errors.js";

test("tracker_info accepts ip:port and ip port lines with comments and blanks", () => {
  const trackers = parseTrackerInfo("# trackers\n127.0.0.1:6001\n\n127.0.0.1 6002  # second\n");
  assert.deepEqual(
    trackers.map((t) => [t.number, t.url]),
    [[1, "http://127.0.0.1:6001"], [2, "http://127.0.0.1:6002"]],
  );
});

test("tracker_info names the line that is malformed", () => {
  assert.throws(() => parseTrackerInfo("127.0.0.1:6001\nnot-an-address\n"), (error: unknown) =>
    error instanceof ValidationError && /line 2/.test(error.message));
});

test("tracker_info refuses a port out of range", () => {
  assert.throws(() => parseTrackerInfo("127.0.0.1:70000"), ValidationError);
});

test("tracker_info with no trackers is an error", () => {
  assert.throws(() => parseTrackerInfo("# nothing\n\n"), /lists no trackers/);
});

test("selecting a tracker number outside the file is an error", () => {
  const trackers = parseTrackerInfo("127.0.0.1:6001\n");
  assert.equal(selectTracker(trackers, 1).port, 6001);
  assert.throws(() => selectTracker(trackers, 2), /between 1 and 1/);
});
