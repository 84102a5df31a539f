import { test } from "node:test";
import assert from "node:assert/strict";
import { AGENT } from "../src/config.js";
import { TRACKER_CLIENT } from "../../core/tracker-client.js";
import { testTunables, tunablesWithoutReason, unusedTunables } from "../../core/test/support/tunables.js";

const CORE = new URL("../../core/", import.meta.url);

testTunables({
  program: "agent",
  name: "AGENT",
  config: AGENT,
  configFile: new URL("../src/config.ts", import.meta.url),
  // The shared code is checked here too: the agent is what runs it (the tracker client's defaults are TRACKER_CLIENT's).
  sources: [new URL("../src/", import.meta.url), CORE],
  allowed: [
    // Wire formats and API contracts, the same for every program: not tunables.
    "export const PIECE_SIZE = 512 * 1024;",
    "export const DEFAULT_PAGE_LIMIT = 200;",
    "export const MAX_PAGE_LIMIT = 1000;",
    'export const MAX_FILE_NAME_BYTES = 255 - ".part".length;',
    "export const MAX_MANIFEST_PATH_BYTES = 4000;",
    // Set by the tracker that issues grants; it lives beside the grant format.
    "export const GRANT_TTL_SECONDS = 600;",
    // An HTTP status for an answer without one, not a tunable.
    "if (response.statusCode !== 200) throw fromProblem(response.statusCode ?? 502, body);",
    // The shared code's own tunables, documented where they are (TRACKER_CLIENT is checked below).
    "export const HASH_READ_BYTES = 1024 * 1024;",
    "TIMEOUT_MS: 3000,",
    "RETRY_DOWN_AFTER_MS: 5000,",
    "KEEP_ALIVE_MS: 10_000,",
  ],
});

test("the tracker client's defaults are frozen, say why they have their values and are used", async () => {
  assert.ok(Object.isFrozen(TRACKER_CLIENT));
  assert.deepEqual(await tunablesWithoutReason(new URL("tracker-client.ts", CORE), "TRACKER_CLIENT", TRACKER_CLIENT), []);
  assert.deepEqual(await unusedTunables([CORE], "TRACKER_CLIENT", TRACKER_CLIENT), []);
});
