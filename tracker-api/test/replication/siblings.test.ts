import { test } from "node:test";
import assert from "node:assert/strict";
import { commitNotice, type SiblingMessage } from "../../src/replication/siblings.js";
import { nothingTouched } from "../../src/replication/register-batch.js";
import type { LoggedEvent } from "../../src/replication/events.js";
import { TRACKER } from "../../src/config.js";
import { event } from "./support/events.js";

/** The payload PostgreSQL sends: the notice with the log's position the commit's statement puts in. */
const sent = (notice: { head: string; tail: string }, after: number) =>
  JSON.parse(`${notice.head}${after}${notice.tail}`) as { from: string; message: Extract<SiblingMessage, { kind: "committed" }> };

const share = (seq: number, hashes = 1): LoggedEvent => event("tracker-1", seq, seq, {
  type: "file.shared",
  payload: { groupId: "g1", groupHlc: "", fileName: `f${seq}`, size: 1, sha1: "a".repeat(40), pieceSize: 1, pieceHashes: JSON.stringify(Array(hashes).fill("a".repeat(40))), sharedAt: "2026-01-01T00:00:00.000Z", userId: "u1", piecesHeld: hashes },
});

test("a commit's notice tells the siblings what it touched and its events, numbered after the log's position the statement adds", () => {
  const touched = { ...nothingTouched(), groups: new Set(["g1"]) };
  const { from, message } = sent(commitNotice("p1", touched, [share(1), share(2)]), 41);
  assert.equal(from, "p1");
  assert.equal(message.kind, "committed");
  assert.equal(message.after, 41);
  assert.deepEqual(message.touched, { kind: "touched", groups: ["g1"], endedSessions: [], usersSignedOut: [], renamed: false });
  assert.deepEqual(message.events.map((e) => [e.seq, e.type, (e.payload as { fileName?: string }).fileName]), [[1, "file.shared", "f1"], [2, "file.shared", "f2"]]);
});

test("a commit whose events would not fit in one notification tells what it touched without them, and one that touched too much says so", () => {
  const big = share(1, 400);
  const touched = { ...nothingTouched(), groups: new Set(["g1"]) };
  const withoutEvents = sent(commitNotice("p1", touched, [big]), 7);
  assert.deepEqual(withoutEvents.message.events, []);
  assert.deepEqual(withoutEvents.message.touched, { kind: "touched", groups: ["g1"], endedSessions: [], usersSignedOut: [], renamed: false });

  const many = { ...nothingTouched(), groups: new Set(Array.from({ length: 1000 }, (_, i) => `group-${i}`)) };
  const notice = commitNotice("p1", many, [big]);
  assert.ok(Buffer.byteLength(`${notice.head}9999999999${notice.tail}`) <= TRACKER.SIBLING_MESSAGE_BYTES);
  assert.deepEqual(sent(notice, 7).message, { kind: "committed", touched: { kind: "touched-all" }, events: [], after: 7 });
});
