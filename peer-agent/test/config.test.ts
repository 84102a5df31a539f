import { test } from "node:test";
import assert from "node:assert/strict";
import { AGENT } from "../src/config.js";
import { TRACKER_CLIENT } from "../../core/tracker-client.js";
import { strayTunables, tunablesWithoutReason, unusedTunables } from "../../core/test/support/tunables.js";

const CONFIG = new URL("../src/config.ts", import.meta.url);
const SOURCES = new URL("../src/", import.meta.url);
const CORE = new URL("../../core/", import.meta.url);

test("the agent's tunables are frozen: a value is changed in config.ts, never where it is used", () => {
  assert.ok(Object.isFrozen(AGENT));
  assert.ok(Object.isFrozen(AGENT.PICKER));
  assert.throws(() => {
    (AGENT as { MAX_PEERS: number }).MAX_PEERS = 1;
  }, TypeError);
});

test("every tunable of the agent says why it has its value", async () => {
  assert.deepEqual(await tunablesWithoutReason(CONFIG, "AGENT", AGENT), []);
});

test("every tunable of the agent is used", async () => {
  assert.deepEqual(await unusedTunables([SOURCES], "AGENT", AGENT), []);
});

test("the tracker client's defaults say why they have their values and are used", async () => {
  const file = new URL("tracker-client.ts", CORE);
  assert.ok(Object.isFrozen(TRACKER_CLIENT));
  assert.deepEqual(await tunablesWithoutReason(file, "TRACKER_CLIENT", TRACKER_CLIENT), []);
  assert.deepEqual(await unusedTunables([CORE], "TRACKER_CLIENT", TRACKER_CLIENT), []);
});

test("no tunable of the agent or of the shared code is written where it is used instead of in a config", async () => {
  const stray = await strayTunables([SOURCES, CORE], {
    exclude: [CONFIG],
    allowed: [
      // Wire formats and API contracts, the same for every program: not tunables.
      "export const PIECE_SIZE = 512 * 1024;",
      "export const DEFAULT_PAGE_LIMIT = 200;",
      "export const MAX_PAGE_LIMIT = 1000;",
      "export const MAX_FILE_NAME_BYTES = 255 - \".part\".length;",
      // Set by the tracker that issues grants; it lives beside the grant format (TRACKER's concern).
      "export const GRANT_TTL_SECONDS = 600;",
      // An HTTP status for an answer without one, not a tunable.
      "if (response.statusCode !== 200) throw fromProblem(response.statusCode ?? 502, body);",
      // Shared code's one tunable outside the tracker client, documented where it is.
      "export const HASH_READ_BYTES = 1024 * 1024;",
      "TIMEOUT_MS: 3000,",
      "RETRY_DOWN_AFTER_MS: 5000,",
      "KEEP_ALIVE_MS: 10_000,",
    ],
  });
  assert.deepEqual(stray, []);
});
