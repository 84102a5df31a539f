import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { parseTrackerArgs, TRACKER } from "../src/config.js";

test("the tracker's tunables are frozen: a value is changed in config.ts, never where it is used", () => {
  assert.ok(Object.isFrozen(TRACKER));
  assert.throws(() => {
    (TRACKER as { PUSH_WAIT_MS: number }).PUSH_WAIT_MS = 1;
  }, TypeError);
});

test("every tunable of the tracker says why it has its value", async () => {
  const source = await readFile(new URL("../src/config.ts", import.meta.url), "utf8");
  const block = source.slice(source.indexOf("export const TRACKER = Object.freeze({"));
  const lines = block.split("\n");
  for (const key of Object.keys(TRACKER)) {
    const at = lines.findIndex((line) => line.startsWith(`  ${key}: `));
    assert.ok(at > 0, `${key} is not in config.ts`);
    assert.match(lines[at - 1]!, /\*\/\s*$/, `${key} has no comment saying why`);
  }
});

test("the quota flags reach the tracker's config as quotas, and those not given are left to TRACKER.QUOTAS", () => {
  const config = parseTrackerArgs(["info.txt", "1", "--max-groups-per-user", "5000", "--max-pending-requests", "3"], {});
  assert.deepEqual(config.quotas, { groupsOwned: 5000, pendingJoinRequests: 3 });
  assert.deepEqual(parseTrackerArgs(["info.txt", "1"], {}).quotas, {});
});
