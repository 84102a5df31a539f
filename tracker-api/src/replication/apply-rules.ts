/**
 * The conflict rules of replication, as pure functions of plain data (see
 * README.md beside this file). An event becomes writes to registers, one per
 * replicated key; a register keeps the winning write; the tracker's rows are a
 * function of the registers. Merging is commutative, associative and
 * idempotent, so every tracker that has seen the same events holds the same
 * registers, and so the same rows, whatever order the events came in.
 */
import type { LoggedEvent } from "./events.js";

export type RegisterKind = "user" | "password" | "group" | "owner" | "member" | "request" | "file" | "holding" | "session" | "userName" | "groupName" | "sessionGroup";

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
  /** last writer wins on whether the user is a member; the register also keeps the latest removal seen (a grow-only maximum) */
  | "membership"
  /** the earliest creation by HLC wins (user ids) */
  | "first-creation-wins"
  /** added to the group's history; earliest concurrent creation wins, a creation made after seeing the deletion replaces it */
  | "group-creation"
  /** added to the group's history; ends the incarnation it names (even one not seen yet), and no other */
  | "group-deletion"
  /** a session (keyed by token hash) is created once and ended for good: an end seen before the login still ends it */
  | "session"
  /** a name's claims and releases, both grow-only sets: who holds the name is a function of them (boundNames) */
  | "name";

export interface RegisterWrite {
  key: RegisterKey;
  rule: MergeRule;
  hlc: string;
  live: boolean;
  value: Record<string, unknown>;
}

const key = (kind: RegisterKind, groupId = "", incarnation = "", fileName = "", userId = ""): RegisterKey =>
  ({ kind, groupId, incarnation, fileName, userId });

const membership = (k: RegisterKey, hlc: string, live: boolean, value: Record<string, unknown>): RegisterWrite =>
  ({ key: k, rule: "membership", hlc, live, value });

/** The register of a user's membership of one group incarnation. */
export const memberKey = (groupId: string, incarnation: string, userId: string): RegisterKey => key("member", groupId, incarnation, "", userId);

/**
 * A user's password when it was changed: last writer wins, apart from the
 * user register (first creation wins), so a change never decides which
 * creation holds the id, and a creation applied late never brings back the
 * password it was made with.
 */
export const passwordKey = (userId: string): RegisterKey => key("password", "", "", "", userId);

/** The password hash a user's row holds: the latest change, else the one the account was created with. */
export function currentPasswordHash(user: Register, password: Register | undefined): string {
  return String((password ?? user).value.passwordHash);
}

/** The register of a user id or group id as typed (a name), keyed by the name alone. */
export const userNameKey = (name: string): RegisterKey => key("userName", "", "", name);
export const groupNameKey = (name: string): RegisterKey => key("groupName", "", "", name);

/**
 * One group creation made by a session: those made after the session's end
 * are void. One register per creation (written once), keyed by the session's
 * token hash first (in the group slot, so the creations of a session are read
 * with one prefix of the primary key) and the group's internal id.
 */
export const sessionGroupKey = (tokenHash: string, groupId: string): RegisterKey => key("sessionGroup", tokenHash, "", groupId);

/** A group creation as a session's register keeps it. */
export interface SessionGroup {
  groupId: string;
  hlc: string;
  name: string;
}

/**
 * The creations a session made after it ended (on a tracker that had not heard
 * of the end yet, during a partition): they are void, as if never made. A pure
 * function of the session's register and its creations, so it does not
 * matter whether the end or the creation arrives first.
 */
export function voidCreations(session: Register | undefined, made: readonly Register[]): SessionGroup[] {
  if (session === undefined || session.live) return [];
  return made
    .map((r) => ({ groupId: r.fileName, hlc: r.hlc, name: String(r.value.name) }))
    .filter((g) => g.hlc > session.hlc);
}

/** The register of one session, keyed by its token hash alone (an end names nothing else). */
export const sessionKey = (tokenHash: string): RegisterKey => key("session", "", "", tokenHash);

/**
 * The register writes an event stands for. Heartbeats and idempotency
 * answers have none: they change their tables directly.
 */
export function registerWrites(event: LoggedEvent): RegisterWrite[] {
  const { hlc } = event;
  const lww = (k: RegisterKey, live: boolean, value: Record<string, unknown>): RegisterWrite =>
    ({ key: k, rule: "last-writer-wins", hlc, live, value });
  switch (event.type) {
    case "user.created": {
      const { userId, name, passwordHash, createdAt } = event.payload;
      return [
        { key: key("user", "", "", "", userId), rule: "first-creation-wins", hlc, live: true, value: { passwordHash, createdAt, name } },
        { key: userNameKey(name), rule: "name", hlc, live: true, value: { claims: [{ id: userId, hlc }], released: [] } },
      ];
    }
    case "user.passwordChanged": {
      const { userId, passwordHash, changedAt } = event.payload;
      return [lww(passwordKey(userId), true, { passwordHash, changedAt })];
    }
    case "group.created": {
      const { groupId, name, ownerId, createdAt, after, by } = event.payload;
      return [
        ...(by ? [{ key: sessionGroupKey(by, groupId), rule: "first-creation-wins" as const, hlc, live: true, value: { name } }] : []),
        { key: key("group", groupId), rule: "group-creation", hlc, live: true, value: { ownerId, createdAt, after } },
        { key: groupNameKey(name), rule: "name", hlc, live: true, value: { claims: [{ id: groupId, hlc }], released: [] } },
        lww(key("owner", groupId, hlc), true, { ownerId }),
        membership(memberKey(groupId, hlc, ownerId), hlc, true, { joinedAt: createdAt }),
      ];
    }
    case "group.deleted": {
      const { groupId, groupHlc, name } = event.payload;
      return [
        { key: key("group", groupId), rule: "group-deletion", hlc, live: false, value: { groupHlc } },
        // The deleted group gives its name back (a group renamed by a conflict may then get it).
        ...(name ? [{ key: groupNameKey(name), rule: "name" as const, hlc, live: true, value: { claims: [], released: [groupHlc] } }] : []),
      ];
    }
    case "group.ownerChanged": {
      const { groupId, groupHlc, ownerId } = event.payload;
      return [lww(key("owner", groupId, groupHlc), true, { ownerId })];
    }
    case "membership.added": {
      const { groupId, groupHlc, userId, joinedAt } = event.payload;
      return [membership(memberKey(groupId, groupHlc, userId), hlc, true, { joinedAt })];
    }
    case "membership.removed": {
      const { groupId, groupHlc, userId } = event.payload;
      return [membership(memberKey(groupId, groupHlc, userId), hlc, false, {})];
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
      const { groupId, groupHlc, fileName, size, sha1, pieceSize, pieceHashes, sharedAt, userId, piecesHeld, fileCount, manifest } = event.payload;
      const folder = manifest !== undefined ? { fileCount, manifest } : {};
      return [
        lww(key("file", groupId, groupHlc, fileName), true, { size, sha1, pieceSize, pieceHashes, sharedAt, ...folder }),
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
    case "session.created": {
      const { tokenHash, userId, userHlc, peerAddress, createdAt, expiresAt } = event.payload;
      return [{ key: sessionKey(tokenHash), rule: "session", hlc, live: true, value: { userId, userHlc, peerAddress, createdAt, expiresAt } }];
    }
    case "session.ended":
      return [{ key: sessionKey(event.payload.tokenHash), rule: "session", hlc, live: false, value: {} }];
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
    case "membership":
      return mergeMembership(current, write);
    case "first-creation-wins":
      return current === undefined || write.hlc < current.hlc ? next : undefined;
    case "group-creation":
    case "group-deletion":
      return mergeGroup(current, write);
    case "name":
      return mergeName(current, write);
    case "session":
      if (write.live) return current === undefined ? next : undefined;
      // An end is final, whichever came first (and the same register either way).
      return current?.live === false ? undefined : next;
  }
}

/** The HLC of the latest removal a member register has seen ("" when none). */
export function lastRemoval(member: Register | undefined): string {
  if (member === undefined) return "";
  const kept = typeof member.value.removed === "string" ? member.value.removed : "";
  return member.live || kept > member.hlc ? kept : member.hlc;
}

/**
 * Last writer wins on membership, and the latest removal is kept whoever wins
 * (a maximum, so commutative and idempotent): a rejoin must not make the
 * holdings from before a leave come back when they arrive late.
 */
function mergeMembership(current: Register | undefined, write: RegisterWrite): Register | undefined {
  const removed = [lastRemoval(current), write.live ? "" : write.hlc].sort(compare).at(-1)!;
  const wins = current === undefined || write.hlc > current.hlc;
  if (!wins && removed === lastRemoval(current)) return undefined;
  const { hlc, live, value } = wins ? write : current!;
  const { removed: _stale, ...rest } = value;
  return { ...write.key, hlc, live, value: removed === "" ? rest : { ...rest, removed } };
}

/**
 * Leaving a group ends the user's holdings in it, also those another tracker
 * acknowledged before the leave and pushed only after it: a holding written
 * before the holder's latest removal is void, whichever of the two arrives
 * first. The holding then carries the removal's own write (dead, at the
 * removal's HLC), so both arrival orders leave the same register.
 */
export function holdingAfterRemovals(write: RegisterWrite, member: Register | undefined): RegisterWrite {
  const removed = lastRemoval(member);
  if (!write.live || write.hlc > removed) return write;
  return { ...write, hlc: removed, live: false, value: {} };
}

/** One creation of a group id, as kept in the group register's history. */
export interface GroupCreation {
  hlc: string;
  ownerId: string;
  createdAt: string;
  /** The incarnation its creator had seen deleted and replaced, or null. */
  after: string | null;
}

/** Every creation and deletion of a group id seen so far (a grow-only set, sorted by HLC). */
export interface GroupHistory {
  creations: GroupCreation[];
  deleted: string[];
}

/** The history a group register holds (registers written before histories were kept stand for their one creation). */
export function groupHistory(register: Register | undefined): GroupHistory {
  if (register === undefined) return { creations: [], deleted: [] };
  const v = register.value as { creations?: GroupCreation[]; deleted?: string[]; ownerId?: unknown; createdAt?: unknown; after?: unknown };
  if (Array.isArray(v.creations) && Array.isArray(v.deleted)) return { creations: v.creations, deleted: v.deleted };
  if (register.hlc === "") return { creations: [], deleted: [] };
  const creation = { hlc: register.hlc, ownerId: String(v.ownerId), createdAt: String(v.createdAt), after: typeof v.after === "string" ? v.after : null };
  return { creations: [creation], deleted: register.live ? [] : [register.hlc] };
}

/**
 * The incarnation a history stands for, a pure function of the set of
 * creations (so of no arrival order): among the first creations (those that
 * replaced nothing known) the earliest wins; then, as long as some creation
 * replaced the winner (its creator saw the winner deleted), the earliest of
 * those wins in turn. Undefined when no creation is known (only deletions).
 */
export function currentCreation(history: GroupHistory): GroupCreation | undefined {
  const known = new Set(history.creations.map((c) => c.hlc));
  const earliest = (list: GroupCreation[]) => list.reduce<GroupCreation | undefined>((a, c) => (a === undefined || c.hlc < a.hlc ? c : a), undefined);
  let current = earliest(history.creations.filter((c) => c.after === null || !known.has(c.after)));
  for (let steps = 0; current !== undefined && steps < history.creations.length; steps++) {
    const at: string = current.hlc;
    const next = earliest(history.creations.filter((c) => c.after === at));
    if (next === undefined) break;
    current = next;
  }
  return current;
}

/** The group register a history stands for: its incarnation, whether it lives, the winner's owner and time, and the history. */
export function groupRegister(groupId: string, history: GroupHistory): Register {
  const current = currentCreation(history);
  const live = current !== undefined && !history.deleted.includes(current.hlc);
  return {
    kind: "group", groupId, incarnation: "", fileName: "", userId: "",
    hlc: current?.hlc ?? "",
    live,
    value: {
      ownerId: current?.ownerId ?? "", createdAt: current?.createdAt ?? "", after: current?.after ?? null,
      creations: history.creations, deleted: history.deleted,
    },
  };
}

/**
 * What a creation made now on this tracker replaces (its `after`): the
 * incarnation it sees deleted, or, when it has only seen a deletion and not
 * yet the creation deleted, the latest incarnation it saw deleted; null when
 * the id was never used or the group lives.
 */
export function replacedIncarnation(register: Register | undefined): string | null {
  if (register === undefined || register.live) return null;
  if (register.hlc !== "") return register.hlc;
  return groupHistory(register).deleted.at(-1) ?? null;
}

/**
 * A group register merges histories: a creation or a deletion is added to the
 * set (idempotent, commutative), and the register is recomputed from the set.
 * So a deletion that arrives before the creation it names is kept, and the
 * creation is applied as already deleted.
 */
function mergeGroup(current: Register | undefined, write: RegisterWrite): Register | undefined {
  const history = groupHistory(current);
  if (write.rule === "group-creation") {
    if (history.creations.some((c) => c.hlc === write.hlc)) return undefined;
    const after = typeof write.value.after === "string" && write.value.after !== "" ? write.value.after : null;
    const creation: GroupCreation = { hlc: write.hlc, ownerId: String(write.value.ownerId), createdAt: String(write.value.createdAt), after };
    const creations = [...history.creations, creation].sort((a, b) => compare(a.hlc, b.hlc));
    return groupRegister(write.key.groupId, { creations, deleted: history.deleted });
  }
  const ended = String(write.value.groupHlc);
  if (ended === "" || history.deleted.includes(ended)) return undefined;
  return groupRegister(write.key.groupId, { creations: history.creations, deleted: [...history.deleted, ended].sort(compare) });
}

/** One creation that asked for a name: the internal id it made, and when (its HLC). */
export interface NameClaim {
  id: string;
  hlc: string;
}

/** The claims and releases a name register holds. */
export function nameHistory(register: Register | undefined): { claims: NameClaim[]; released: string[] } {
  const v = (register?.value ?? {}) as { claims?: NameClaim[]; released?: string[] };
  return { claims: v.claims ?? [], released: v.released ?? [] };
}

/** A name register adds claims and releases (grow-only sets, kept sorted): commutative, associative, idempotent. */
function mergeName(current: Register | undefined, write: RegisterWrite): Register | undefined {
  const had = nameHistory(current);
  const add = nameHistory({ ...write.key, hlc: write.hlc, live: true, value: write.value });
  const claims = [...had.claims];
  for (const c of add.claims) if (!claims.some((k) => k.id === c.id && k.hlc === c.hlc)) claims.push(c);
  const released = [...new Set([...had.released, ...add.released])];
  if (current !== undefined && claims.length === had.claims.length && released.length === had.released.length) return undefined;
  claims.sort((a, b) => compare(a.hlc, b.hlc) || compare(a.id, b.id));
  released.sort(compare);
  const hlc = [current?.hlc ?? "", write.hlc].sort(compare).at(-1)!;
  return { ...write.key, hlc, live: true, value: { claims, released } };
}

/**
 * Who is called what under one name (a user id or group id as typed). The
 * claims not released (a deleted group releases its name) in order of their
 * creation (HLC, then internal id): the first holds the name itself, the
 * second `name~2`, the third `name~3`. Names people choose never contain `~`,
 * so these never collide with a chosen one. A pure function of the two sets,
 * so every tracker that saw the same creations and deletions names everyone
 * alike. Everything refers to internal ids: a renamed account or group keeps
 * all of its data, and nothing moves to the one that took the name.
 */
export function boundNames(name: string, register: Register | undefined): Map<string, string> {
  const { claims, released } = nameHistory(register);
  const gone = new Set(released);
  const names = new Map<string, string>();
  const ordered = [...claims].sort((a, b) => compare(a.hlc, b.hlc) || compare(a.id, b.id));
  for (const claim of ordered) {
    if (gone.has(claim.hlc) || names.has(claim.id)) continue;
    names.set(claim.id, names.size === 0 ? name : `${name}~${names.size + 1}`);
  }
  return names;
}

/** The name people chose for something now called `name` (without the `~N` a conflict added). */
export const chosenName = (name: string): string => name.replace(/~[0-9]+$/, "");

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
  /** fileCount and manifest: null for a plain file. */
  file: { size: number; sha1: string; pieceSize: number; pieceHashes: string; sharedAt: string; fileCount: number | null; manifest: string | null };
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
    file: {
      size: Number(v.size), sha1, pieceSize: Number(v.pieceSize), pieceHashes: String(v.pieceHashes), sharedAt: String(v.sharedAt),
      fileCount: typeof v.manifest === "string" ? Number(v.fileCount) : null, manifest: typeof v.manifest === "string" ? v.manifest : null,
    },
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

/**
 * Whether a session has a row: logged in and not ended (in any order), and
 * issued against the account that holds the user id.
 */
export function sessionLives(session: Register | undefined, user: Register | undefined): boolean {
  return session?.live === true && sessionStands(user, String(session.value.userHlc));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
