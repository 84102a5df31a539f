import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { TRACKER } from "../src/config.js";

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
