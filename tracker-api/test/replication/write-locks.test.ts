import { test } from "node:test";
import assert from "node:assert/strict";
import type { NewEvent } from "../../src/replication/events.js";
import { locksOf, lockOrder, nameLock } from "../../src/replication/write-locks.js";

/** Whether two writes wait for each other: a lock number they share that one of them takes exclusive. */
function wait(a: readonly NewEvent[], b: readonly NewEvent[]): boolean {
  const mine = new Map(lockOrder(locksOf(a)).map((l) => [l.number, l.exclusive]));
  return lockOrder(locksOf(b)).some((l) => mine.has(l.number) && (l.exclusive || mine.get(l.number)!));
}

const share = (fileName: string): NewEvent => ({
  type: "file.shared",
  payload: { groupId: "g:1", fileName, size: 1, sha1: "a", pieceSize: 1, pieceHashes: "[]", sharedAt: "t", userId: "u:1", piecesHeld: 1 },
});

test("shares of different files in one group do not wait for each other", () => {
  assert.equal(wait([share("a.bin")], [share("b.bin")]), false);
});

test("two shares of one file, or a share and a member's removal in its group, wait for each other", () => {
  assert.equal(wait([share("a.bin")], [share("a.bin")]), true);
  assert.equal(wait([share("a.bin")], [{ type: "membership.removed", payload: { groupId: "g:1", userId: "u:1" } }]), true);
});

test("creations of one name wait for each other, and for a creation checking whether that name is free", () => {
  const user = (userId: string): NewEvent => ({ type: "user.created", payload: { userId, name: "ann", passwordHash: "h", createdAt: "t" } });
  assert.equal(wait([user("u:1")], [user("u:2")]), true);
  const check = lockOrder([nameLock("user", "ann")])[0]!;
  assert.ok(lockOrder(locksOf([user("u:1")])).some((l) => l.number === check.number && l.exclusive));
});

test("locks are taken once each, in one order whatever the order of the events", () => {
  const events = [share("b.bin"), share("a.bin"), share("a.bin")];
  const order = lockOrder(locksOf(events));
  assert.deepEqual(order, lockOrder(locksOf([...events].reverse())));
  assert.deepEqual(order.map((l) => l.number), [...new Set(order.map((l) => l.number))].sort((x, y) => x - y));
  assert.equal(order.length, 3, "the group's lock (shared) and one per file");
});
