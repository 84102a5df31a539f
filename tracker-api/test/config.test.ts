import { test } from "node:test";
import assert from "node:assert/strict";
import { parseTrackerArgs, TRACKER } from "../src/config.js";
import { testTunables } from "../../core/test/support/tunables.js";

testTunables({
  program: "tracker",
  name: "TRACKER",
  config: TRACKER,
  configFile: new URL("../src/config.ts", import.meta.url),
  sources: [new URL("../src/", import.meta.url)],
  allowed: [
    // OpenAPI examples of the controllers.
    'groupId: "movies", fileName: "holiday.mp4", size: 1048576, sha1: "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12",',
    'groupId: "movies", fileName: "holiday.mp4", size: 1048576, sha1: "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", pieceSize: 524288,',
    "@Example<AnnounceResult>({ intervalSeconds: 15, rejected: [] })",
    'files: [{ path: "notes.txt", size: 1200 }, { path: "week-1/slides.pdf", size: 48213 }],',
    'detail: "too many failed logins; try again in 60 s", code: "LOGIN_THROTTLED", retryAfterSeconds: 60,',
    // 2 ** 30 bounds the exponent so the delay never overflows to Infinity; the cap that matters is maxDelayMs.
    "const delay = Math.min(this.config.maxDelayMs, this.config.baseDelayMs * 2 ** Math.min(30, counter.failures - free));",
    // Formats written to disk or the wire: changing them is a migration, not a tuning.
    "const CURSOR_VERSION = 1;",
    "const WALL_DIGITS = 15;",
    "const LOGICAL_DIGITS = 6;",
    "const KEY_LENGTH = 32;",
  ],
});

test("the quota flags reach the tracker's config as quotas, and those not given are left to TRACKER.QUOTAS", () => {
  const config = parseTrackerArgs(["info.txt", "1", "--max-groups-per-user", "5000", "--max-pending-requests", "3"], {});
  assert.deepEqual(config.quotas, { groupsOwned: 5000, pendingJoinRequests: 3 });
  assert.deepEqual(parseTrackerArgs(["info.txt", "1"], {}).quotas, {});
});

test("--database-url or a postgresql:// DATABASE_URL selects PostgreSQL; a DATABASE_URL naming a SQLite file leaves the tracker on SQLite", () => {
  const url = "postgresql://tracker@127.0.0.1:5432/tracker1";
  assert.equal(parseTrackerArgs(["info.txt", "1", "--database-url", url], {}).databaseUrl, url);
  assert.equal(parseTrackerArgs(["info.txt", "1"], { DATABASE_URL: url }).databaseUrl, url);
  assert.equal(parseTrackerArgs(["info.txt", "1"], { DATABASE_URL: "file:./.data/prisma-cli.db" }).databaseUrl, undefined);
  assert.throws(() => parseTrackerArgs(["info.txt", "1", "--database-url", "tracker.db"], {}), /postgresql:\/\//);
});

test("more than one API process is refused without PostgreSQL: a SQLite database is served by one process", () => {
  assert.throws(() => parseTrackerArgs(["info.txt", "1", "--workers", "4"], {}), /--workers above 1 needs --database-url/);
  assert.equal(parseTrackerArgs(["info.txt", "1", "--workers", "4"], { DATABASE_URL: "postgres://db/t" }).workers, 4);
  assert.equal(parseTrackerArgs(["info.txt", "1"], {}).workers, 1);
});
