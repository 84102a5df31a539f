import { test } from "node:test";
import assert from "node:assert/strict";
import { CLIENT } from "../src/config.js";
import { strayTunables, tunablesWithoutReason, unusedTunables } from "../../core/test/support/tunables.js";

const CONFIG = new URL("../src/config.ts", import.meta.url);
const SOURCES = new URL("../src/", import.meta.url);

test("the client's tunables are frozen: a value is changed in config.ts, never where it is used", () => {
  assert.ok(Object.isFrozen(CLIENT));
  assert.throws(() => {
    (CLIENT as { HISTORY_SIZE: number }).HISTORY_SIZE = 1;
  }, TypeError);
});

test("every tunable of the client says why it has its value", async () => {
  assert.deepEqual(await tunablesWithoutReason(CONFIG, "CLIENT", CLIENT), []);
});

test("every tunable of the client is used", async () => {
  assert.deepEqual(await unusedTunables([SOURCES], "CLIENT", CLIENT), []);
});

test("no tunable of the client is written where it is used instead of in config.ts", async () => {
  const stray = await strayTunables([SOURCES], {
    exclude: [CONFIG],
    allowed: [
      // Exit codes are the command's interface (README), not tunables.
      "export const USAGE_EXIT_CODE = 2;",
      "const PIPE_FAILED_EXIT_CODE = 1;",
      // 99.9 %: a download not yet complete never shows 100.0 %; a display rule, not a tunable.
      "return `${(done < total ? Math.min(percent, 99.9) : percent).toFixed(1)}%`;",
    ],
  });
  assert.deepEqual(stray, []);
});
