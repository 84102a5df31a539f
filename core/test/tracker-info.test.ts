import { test } from "node:test";
import assert from "node:assert/strict";
import { assertPasswordTravelsSafely, parseTrackerInfo, selectTracker } from "../tracker-info.js";
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

test("tracker_info takes an https:// entry as a TLS tracker at its host and port, beside ip:port entries", () => {
  const trackers = parseTrackerInfo("https://tracker.example.org:6443\n127.0.0.1:6001\n");
  assert.deepEqual(
    trackers.map((t) => [t.host, t.port, t.url]),
    [["tracker.example.org", 6443, "https://tracker.example.org:6443"], ["127.0.0.1", 6001, "http://127.0.0.1:6001"]],
  );
});

test("a password is refused for a plain-HTTP tracker that is not on this machine", () => {
  for (const line of ["10.0.0.5:6001", "tracker.example.org:6001", "http://192.168.1.20:6001"]) {
    assert.throws(() => assertPasswordTravelsSafely(parseTrackerInfo(`127.0.0.1:6001\n${line}\n`), false), (error: unknown) =>
      error instanceof ValidationError && error.code === "INSECURE_TRACKER" && /tracker 2 /.test(error.message), line);
  }
});

test("a password may go over plain HTTP to a tracker on this machine, or over https to any", () => {
  assert.doesNotThrow(() => assertPasswordTravelsSafely(parseTrackerInfo("127.0.0.1:6001\n127.3.4.5 6002\nlocalhost:6003\n[::1]:6004\nhttps://10.0.0.5:6443\n"), false));
});

test("--insecure lets a password go over plain HTTP to a tracker off this machine", () => {
  assert.doesNotThrow(() => assertPasswordTravelsSafely(parseTrackerInfo("10.0.0.5:6001\n"), true));
});
