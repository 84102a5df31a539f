/**
 * The conflict rules of replication, as pure functions of plain data (see
 * README.md beside this file). An event becomes writes to registers, one per
 * replicated key; a register keeps the winning write; the tracker's rows are a
 * function of the registers. Merging is commutative, associative and
 * idempotent, so every tracker that has seen the same events holds the same
 * registers, and so the same rows, whatever order the events came in.
 */
import type { LoggedEvent } from "./events.js";

export type RegisterKind = "user" | "group" | "owner" | "member" | "request" | "file" | "holding";

export interface RegisterKey {
  kind: RegisterKind;
  /** "" where the kind has no such part. */
  groupId: string;
  /**
   * For keys inside a group: the incarnation (HLC of the group.created) they
   * belong to, so writes under a creation that lost never mix with the winner's.
   */
  incarnation: string;
  fileName: string;
  userId: string;
}

export interface Register extends RegisterKey {
  /** HLC of the winning write; for a group, of its winning creation (its incarnation). */
  hlc: string;
  live: boolean;
  value: Record<string, unknown>;
}

/** How a register chooses between what it holds and a write. */
export type MergeRule =
  /** the latest write by HLC wins (removals are writes with live=false) */
  | "last-writer-wins"
  /** the earliest creation by HLC wins (user ids) */
  | "first-creation-wins"
  /** earliest concurrent creation wins; a creation made after seeing the deletion replaces it */
  | "group-creation"
  /** ends the incarnation it names, and no other */
  | "group-deletion";

export interface RegisterWrite {
  key: RegisterKey;
  rule: MergeRule;
  hlc: string;
  live: boolean;
  value: Record<string, unknown>;
}

const key = (kind: RegisterKind, groupId = "", incarnation = "", fileName = "", userId = ""): RegisterKey =>
  ({ kind, groupId, incarnation, fileName, userId });

/**
 * The register writes an event stands for. Session events and idempotency
 * answers have none: they change their tables directly.
 */
export function registerWrites(event: LoggedEvent): RegisterWrite[] {
  const { hlc } = event;
  const lww = (k: RegisterKey, live: boolean, value: Record<string, unknown>): RegisterWrite =>
    ({ key: k, rule: "last-writer-wins", hlc, live, value });
  switch (event.type) {
    case "user.created": {
      const { userId, passwordHash, createdAt } = event.payload;
      return [{ key: key("user", "", "", "", userId), rule: "first-creation-wins", hlc, live: true, value: { passwordHash, createdAt } }];
    }
    case "group.created": {
      const { groupId, ownerId, createdAt, after } = event.payload;
      return [
        { key: key("group", groupId), rule: "group-creation", hlc, live: true, value: { ownerId, createdAt, after } },
        lww(key("owner", groupId, hlc), true, { ownerId }),
        lww(key("member", groupId, hlc, "", ownerId), true, { joinedAt: createdAt }),
      ];
    }
    case "group.deleted": {
      const { groupId, groupHlc } = event.payload;
      return [{ key: key("group", groupId), rule: "group-deletion", hlc, live: false, value: { groupHlc } }];
    }
    case "group.ownerChanged": {
      const { groupId, groupHlc, ownerId } = event.payload;
      return [lww(key("owner", groupId, groupHlc), true, { ownerId })];
    }
    case "membership.added": {
      const { groupId, groupHlc, userId, joinedAt } = event.payload;
      return [lww(key("member", groupId, groupHlc, "", userId), true, { joinedAt })];
    }
    case "membership.removed": {
      const { groupId, groupHlc, userId } = event.payload;
      return [lww(key("member", groupId, groupHlc, "", userId), false, {})];
    }
    case "joinRequest.created": {
      const { groupId, groupHlc, userId, requestedAt } = event.payload;
      return [lww(key("request", groupId, groupHlc, "", userId), true, { requestedAt })];
    }
    case "joinRequest.accepted":
    case "joinRequest.rejected": {
      const { groupId, groupHlc, userId } = event.payload;
      return [lww(key("request", groupId, groupHlc, "", userId), false, { outcome: event.type.slice("joinRequest.".length) })];
    }
    case "file.shared": {
      const { groupId, groupHlc, fileName, size, sha1, pieceSize, pieceHashes, sharedAt, userId, piecesHeld } = event.payload;
      return [
        lww(key("file", groupId, groupHlc, fileName), true, { size, sha1, pieceSize, pieceHashes, sharedAt }),
        lww(key("holding", groupId, groupHlc, fileName, userId), true, { sha1, piecesHeld, updatedAt: sharedAt }),
      ];
    }
    case "holding.upserted": {
      const { groupId, groupHlc, fileName, userId, sha1, piecesHeld, updatedAt } = event.payload;
      return [lww(key("holding", groupId, groupHlc, fileName, userId), true, { sha1, piecesHeld, updatedAt })];
    }
    case "holding.removed": {
      const { groupId, groupHlc, fileName, userId } = event.payload;
      return [lww(key("holding", groupId, groupHlc, fileName, userId), false, {})];
    }
    case "session.created":
    case "session.ended":
    case "session.seen":
    case "idempotency.answered":
      return [];
  }
}

/** The register after a write, or undefined when the write loses and nothing changes. */
export function mergeRegister(current: Register | undefined, write: RegisterWrite): Register | undefined {
  const next: Register = { ...write.key, hlc: write.hlc, live: write.live, value: write.value };
  switch (write.rule) {
    case "last-writer-wins":
      return current === undefined || write.hlc > current.hlc ? next : undefined;
    case "first-creation-wins":
      return current === undefined || write.hlc < current.hlc ? next : undefined;
    case "group-creation": {
      if (current === undefined) return next;
      if (write.hlc === current.hlc) return undefined;
      // Made by a tracker that had seen this incarnation deleted: a new group under the old id.
      if (write.value.after === current.hlc) return next;
      // Concurrent creations: the earliest wins, unless the current one knowingly replaced it.
      const replaced = typeof current.value.after === "string" ? current.value.after : "";
      return write.hlc < current.hlc && write.hlc > replaced ? next : undefined;
    }
    case "group-deletion":
      return current !== undefined && current.live && current.hlc === write.value.groupHlc ? { ...current, live: false } : undefined;
  }
}

export interface GroupState {
  group: { id: string; ownerId: string; createdAt: string };
  members: { userId: string; joinedAt: string }[];
}

const inIncarnation = (group: Register, register: Register | undefined) =>
  register !== undefined && register.incarnation === group.hlc;

/**
 * Who owns a group: the owner register if that user is a member, otherwise
 * the member who joined earliest (ties by user id), as when an owner leaves.
 * A group emptied by concurrent leaves keeps its last owner.
 */
export function effectiveOwner(ownerId: string, members: readonly { userId: string; joinedAt: string }[]): string {
  if (members.length === 0 || members.some((m) => m.userId === ownerId)) return ownerId;
  const [first] = [...members].sort((a, b) => compare(a.joinedAt, b.joinedAt) || compare(a.userId, b.userId));
  return first!.userId;
}

/** A group's row and its memberships, or undefined when the group does not exist (never created, or deleted). */
export function groupState(group: Register | undefined, owner: Register | undefined, members: readonly Register[]): GroupState | undefined {
  if (!group?.live) return undefined;
  const live = members
    .filter((m) => m.live && inIncarnation(group, m))
    .map((m) => ({ userId: m.userId, joinedAt: String(m.value.joinedAt) }))
    .sort((a, b) => compare(a.userId, b.userId));
  const registered = inIncarnation(group, owner) ? String(owner!.value.ownerId) : String(group.value.ownerId);
  return {
    group: { id: group.groupId, ownerId: effectiveOwner(registered, live), createdAt: String(group.value.createdAt) },
    members: live,
  };
}

/** A pending join request, or undefined. */
export function requestState(group: Register | undefined, request: Register | undefined): { requestedAt: string } | undefined {
  if (!group?.live || !request?.live || !inIncarnation(group, request)) return undefined;
  return { requestedAt: String(request.value.requestedAt) };
}

export interface FileState {
  file: { size: number; sha1: string; pieceSize: number; pieceHashes: string; sharedAt: string };
  holdings: { userId: string; piecesHeld: number; updatedAt: string }[];
}

/**
 * A shared file and its holders. Only holdings of the file's current content
 * count; a file nobody holds is not listed (it leaves the group).
 */
export function fileState(group: Register | undefined, file: Register | undefined, holdings: readonly Register[]): FileState | undefined {
  if (!group?.live || !inIncarnation(group, file) || !file!.live) return undefined;
  const sha1 = String(file!.value.sha1);
  const holders = holdings
    .filter((h) => h.live && inIncarnation(group, h) && h.value.sha1 === sha1)
    .map((h) => ({ userId: h.userId, piecesHeld: Number(h.value.piecesHeld), updatedAt: String(h.value.updatedAt) }))
    .sort((a, b) => compare(a.userId, b.userId));
  if (holders.length === 0) return undefined;
  const v = file!.value;
  return {
    file: { size: Number(v.size), sha1, pieceSize: Number(v.pieceSize), pieceHashes: String(v.pieceHashes), sharedAt: String(v.sharedAt) },
    holdings: holders,
  };
}

/**
 * Whether a session issued against the account created at `userHlc` may stand,
 * given the user register: not when another creation of the same id won.
 */
export function sessionStands(user: Register | undefined, userHlc: string): boolean {
  return user === undefined || user.hlc === userHlc;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
