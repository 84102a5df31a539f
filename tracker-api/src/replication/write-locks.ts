/**
 * Pure: which parts of a tracker's state a write's events touch, as the keys
 * of the locks that let the API processes of one tracker (PostgreSQL) run
 * their writes side by side instead of one at a time (docs/postgresql.md).
 *
 * Two writes whose projections read or write the same register must not run
 * at once: each reads registers, merges in memory and writes them back, and
 * at READ COMMITTED the second would overwrite the first's merge. So a write
 * takes, before its projection reads anything, the lock of every key it
 * touches, held until it commits: exclusive for what it changes, shared for a
 * scope it only reads (a share reads its group's incarnation and the sharer's
 * membership: shares of different files in one group run side by side, a
 * member's removal or the group's deletion waits for them, and they for it).
 */
import { createHash } from "node:crypto";
import type { NewEvent } from "./events.js";

export interface WriteLock {
  key: string;
  exclusive: boolean;
}

const exclusive = (key: string): WriteLock => ({ key, exclusive: true });
const shared = (key: string): WriteLock => ({ key, exclusive: false });

/** The lock of a user name or group name: taken before a creation checks whether its name is free, so that two creations of one name cannot both pass. */
export const nameLock = (kind: "user" | "group", name: string): WriteLock => exclusive(`${kind}Name\u0000${name}`);

/** The lock of a user's group-creation quota: taken before the groups the user owns are counted. */
export const groupQuotaLock = (userId: string): WriteLock => exclusive(`groupQuota\u0000${userId}`);

/** The locks a service's events need, covering every register their projection reads or writes (register-batch.ts). */
export function locksOf(events: readonly NewEvent[]): WriteLock[] {
  const locks: WriteLock[] = [];
  const group = (groupId: string) => `group\u0000${groupId}`;
  const session = (tokenHash: string) => `session\u0000${tokenHash}`;
  const user = (userId: string) => `user\u0000${userId}`;
  for (const event of events) {
    switch (event.type) {
      case "user.created":
        locks.push(exclusive(user(event.payload.userId)), nameLock("user", event.payload.name));
        break;
      case "user.passwordChanged":
        locks.push(exclusive(user(event.payload.userId)));
        break;
      // A login reads the account it was made against; a change of that account re-checks its sessions.
      case "session.created":
        locks.push(exclusive(session(event.payload.tokenHash)), shared(user(event.payload.userId)));
        break;
      // An end reads the session's group creations (it voids those made after it).
      case "session.ended":
      case "session.seen":
        locks.push(exclusive(session(event.payload.tokenHash)));
        break;
      case "group.created":
        locks.push(exclusive(group(event.payload.groupId)), nameLock("group", event.payload.name));
        if (event.payload.by) locks.push(exclusive(session(event.payload.by)));
        break;
      case "group.deleted":
        locks.push(exclusive(group(event.payload.groupId)), nameLock("group", event.payload.name));
        break;
      // The owner and members are one scope, read whole (and a removal reads every holding of the member).
      case "group.ownerChanged":
      case "membership.added":
      case "membership.removed":
        locks.push(exclusive(group(event.payload.groupId)));
        break;
      case "joinRequest.created":
      case "joinRequest.accepted":
      case "joinRequest.rejected":
        locks.push(shared(group(event.payload.groupId)), exclusive(`request\u0000${event.payload.groupId}\u0000${event.payload.userId}`));
        break;
      // A file's registers (the file and its holdings) are one scope; a holding also reads its holder's membership.
      case "file.shared":
      case "holding.upserted":
      case "holding.removed":
        locks.push(shared(group(event.payload.groupId)), exclusive(`file\u0000${event.payload.groupId}\u0000${event.payload.fileName}`));
        break;
      case "idempotency.answered":
        break;
    }
  }
  return locks;
}

/** A lock's number: 32 bits of the key's SHA-256 (PostgreSQL's advisory locks take integers). Two keys that share one only wait for each other. */
export function lockNumber(key: string): number {
  return createHash("sha256").update(key).digest().readInt32BE(0);
}

/**
 * The locks to take, one per number (exclusive where any of its keys is),
 * in the order of their numbers: every write takes its locks in one order, so
 * two writes never each hold a lock the other waits for.
 */
export function lockOrder(locks: readonly WriteLock[]): { number: number; exclusive: boolean }[] {
  const byNumber = new Map<number, boolean>();
  for (const lock of locks) {
    const number = lockNumber(lock.key);
    byNumber.set(number, (byNumber.get(number) ?? false) || lock.exclusive);
  }
  return [...byNumber].sort(([a], [b]) => a - b).map(([number, exclusive]) => ({ number, exclusive }));
}
