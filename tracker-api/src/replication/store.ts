/**
 * The thin Prisma edge of replication: reads and writes registers, and turns
 * the pure decisions of apply-rules.ts into tracker rows. Only the Prisma
 * query API is used here (no SQL), so it runs the same on PostgreSQL.
 */
import type { TrackerDb } from "../db/open.js";
import {
  fileState, groupState, mergeRegister, registerWrites, requestState, sessionStands,
  type Register, type RegisterKey, type RegisterKind,
} from "./apply-rules.js";
import type { LoggedEvent } from "./events.js";

export type Tx = Parameters<Parameters<TrackerDb["$transaction"]>[0]>[0];

/** What applying events changed, for the in-memory caches to forget. */
export interface Touched {
  groups: Set<string>;
  /** Sessions that ended (by token hash), or users whose sessions all ended. */
  endedSessions: Set<string>;
  usersSignedOut: Set<string>;
}

export const nothingTouched = (): Touched => ({ groups: new Set(), endedSessions: new Set(), usersSignedOut: new Set() });

type Row = { kind: string; groupId: string; incarnation: string; fileName: string; userId: string; hlc: string; live: boolean; value: string };

const toRegister = (row: Row): Register => ({ ...row, kind: row.kind as RegisterKind, value: JSON.parse(row.value) as Record<string, unknown> });

const idOf = (k: RegisterKey) => ({
  kind_groupId_incarnation_fileName_userId: { kind: k.kind, groupId: k.groupId, incarnation: k.incarnation, fileName: k.fileName, userId: k.userId },
});

export async function readRegister(tx: Tx, key: RegisterKey): Promise<Register | undefined> {
  const row = await tx.register.findUnique({ where: idOf(key) });
  return row ? toRegister(row) : undefined;
}

async function readRegisters(tx: Tx, where: Partial<RegisterKey>): Promise<Register[]> {
  return (await tx.register.findMany({ where })).map(toRegister);
}

async function writeRegister(tx: Tx, register: Register, exists: boolean): Promise<void> {
  const { kind, groupId, incarnation, fileName, userId, hlc, live } = register;
  const value = JSON.stringify(register.value);
  if (exists) await tx.register.update({ where: idOf(register), data: { hlc, live, value } });
  else await tx.register.create({ data: { kind, groupId, incarnation, fileName, userId, hlc, live, value } });
}

/** The current incarnation of a group (HLC of its winning creation), live or deleted. */
export async function groupRegister(tx: Tx, groupId: string): Promise<Register | undefined> {
  return readRegister(tx, { kind: "group", groupId, incarnation: "", fileName: "", userId: "" });
}

export async function userRegister(tx: Tx, userId: string): Promise<Register | undefined> {
  return readRegister(tx, { kind: "user", groupId: "", incarnation: "", fileName: "", userId });
}

/**
 * Applies one event (already logged, not applied before) inside the caller's
 * transaction: merges its register writes and brings the affected rows in
 * line with the registers.
 */
export async function applyEvent(tx: Tx, event: LoggedEvent, touched: Touched): Promise<void> {
  if (event.type === "session.created" || event.type === "session.ended" || event.type === "session.seen") {
    await applySessionEvent(tx, event, touched);
    return;
  }
  let wholeGroup = false;
  let newGroup = false;
  let members = false;
  const requests = new Set<string>();
  const files = new Set<string>();
  let userReplaced: string | undefined;
  let changedUser: Register | undefined;
  for (const write of registerWrites(event)) {
    const current = await readRegister(tx, write.key);
    const merged = mergeRegister(current, write);
    if (merged === undefined) continue;
    await writeRegister(tx, merged, current !== undefined);
    switch (merged.kind) {
      case "user":
        changedUser = merged;
        if (current !== undefined) userReplaced = merged.userId;
        break;
      case "group":
        wholeGroup = true;
        newGroup = current === undefined;
        break;
      case "owner":
      case "member": members = true; break;
      case "request": requests.add(merged.userId); break;
      case "file":
      case "holding": files.add(merged.fileName); break;
    }
  }
  if (changedUser) await materializeUser(tx, changedUser, userReplaced !== undefined, touched);
  const groupId = "groupId" in event.payload ? event.payload.groupId : undefined;
  if (groupId === undefined) return;
  const touchedAnything = wholeGroup || members || requests.size > 0 || files.size > 0;
  if (!touchedAnything) return;
  touched.groups.add(groupId);
  const group = await groupRegister(tx, groupId);
  if (wholeGroup) {
    await materializeGroup(tx, groupId, group, newGroup);
    return;
  }
  // Writes under an incarnation that is not the group's current one change no rows.
  const incarnation = "groupHlc" in event.payload ? event.payload.groupHlc : event.hlc;
  if (!group?.live || group.hlc !== incarnation) return;
  if (members) await materializeMembers(tx, group);
  for (const userId of requests) await materializeRequest(tx, group, userId);
  for (const fileName of files) await materializeFile(tx, group, fileName);
}

async function applySessionEvent(tx: Tx, event: LoggedEvent & { type: `session.${string}` }, touched: Touched): Promise<void> {
  switch (event.type) {
    case "session.created": {
      const p = event.payload;
      if (!sessionStands(await userRegister(tx, p.userId), p.userHlc)) return;
      const createdAt = new Date(p.createdAt);
      await tx.session.upsert({
        where: { tokenHash: p.tokenHash },
        create: { tokenHash: p.tokenHash, userId: p.userId, peerAddress: p.peerAddress, createdAt, expiresAt: new Date(p.expiresAt), lastSeenAt: createdAt },
        update: {},
      });
      return;
    }
    case "session.ended":
      await tx.session.deleteMany({ where: { tokenHash: event.payload.tokenHash } });
      touched.endedSessions.add(event.payload.tokenHash);
      return;
    case "session.seen": {
      const p = event.payload;
      const lastSeenAt = new Date(p.lastSeenAt);
      // The latest heartbeat wins, whichever tracker it reached.
      await tx.session.updateMany({ where: { tokenHash: p.tokenHash, lastSeenAt: { lt: lastSeenAt } }, data: { lastSeenAt, peerAddress: p.peerAddress } });
      return;
    }
  }
}

async function materializeUser(tx: Tx, user: Register, replaced: boolean, touched: Touched): Promise<void> {
  const data = { passwordHash: String(user.value.passwordHash), createdAt: new Date(String(user.value.createdAt)) };
  await tx.user.upsert({ where: { id: user.userId }, create: { id: user.userId, ...data }, update: data });
  if (replaced) {
    // Another creation of this id won: sessions of the account that lost end.
    await tx.session.deleteMany({ where: { userId: user.userId } });
    touched.usersSignedOut.add(user.userId);
  }
}

/** Rebuilds every row of a group from its registers (after a creation, a lost creation conflict or a deletion). */
async function materializeGroup(tx: Tx, groupId: string, group: Register | undefined, firstCreation: boolean): Promise<void> {
  // Rows follow registers, so a group id never seen before has no rows to clear, nor requests or files.
  if (!firstCreation) {
    await tx.holding.deleteMany({ where: { groupId } });
    await tx.sharedFile.deleteMany({ where: { groupId } });
    await tx.joinRequest.deleteMany({ where: { groupId } });
    await tx.membership.deleteMany({ where: { groupId } });
    await tx.group.deleteMany({ where: { id: groupId } });
  }
  if (!group?.live) return;
  if (firstCreation) {
    await materializeMembers(tx, group);
    return;
  }
  await materializeMembers(tx, group);
  for (const request of await readRegisters(tx, { kind: "request", groupId, incarnation: group.hlc })) {
    await materializeRequest(tx, group, request.userId);
  }
  for (const file of await readRegisters(tx, { kind: "file", groupId, incarnation: group.hlc })) {
    await materializeFile(tx, group, file.fileName);
  }
}

async function materializeMembers(tx: Tx, group: Register): Promise<void> {
  const where = { groupId: group.groupId, incarnation: group.hlc };
  const owner = await readRegister(tx, { kind: "owner", ...where, fileName: "", userId: "" });
  const state = groupState(group, owner, await readRegisters(tx, { kind: "member", ...where }));
  if (!state) return;
  const { id, ownerId, createdAt } = state.group;
  await tx.group.upsert({ where: { id }, create: { id, ownerId, createdAt: new Date(createdAt) }, update: { ownerId } });
  const existing = new Map((await tx.membership.findMany({ where: { groupId: id } })).map((m) => [m.userId, m.joinedAt.getTime()]));
  const wanted = new Set(state.members.map((m) => m.userId));
  const gone = [...existing.keys()].filter((userId) => !wanted.has(userId));
  if (gone.length > 0) await tx.membership.deleteMany({ where: { groupId: id, userId: { in: gone } } });
  for (const member of state.members) {
    const joinedAt = new Date(member.joinedAt);
    const had = existing.get(member.userId);
    if (had === undefined) await tx.membership.create({ data: { groupId: id, userId: member.userId, joinedAt } });
    else if (had !== joinedAt.getTime()) await tx.membership.update({ where: { groupId_userId: { groupId: id, userId: member.userId } }, data: { joinedAt } });
  }
}

async function materializeRequest(tx: Tx, group: Register, userId: string): Promise<void> {
  const request = await readRegister(tx, { kind: "request", groupId: group.groupId, incarnation: group.hlc, fileName: "", userId });
  const state = requestState(group, request);
  const key = { groupId_userId: { groupId: group.groupId, userId } };
  if (!state) {
    await tx.joinRequest.deleteMany({ where: { groupId: group.groupId, userId } });
    return;
  }
  const requestedAt = new Date(state.requestedAt);
  await tx.joinRequest.upsert({ where: key, create: { groupId: group.groupId, userId, requestedAt }, update: { requestedAt } });
}

async function materializeFile(tx: Tx, group: Register, fileName: string): Promise<void> {
  const where = { groupId: group.groupId, incarnation: group.hlc, fileName };
  const file = await readRegister(tx, { kind: "file", ...where, userId: "" });
  const state = fileState(group, file, await readRegisters(tx, { kind: "holding", ...where }));
  const groupId = group.groupId;
  if (!state) {
    await tx.holding.deleteMany({ where: { groupId, fileName } });
    await tx.sharedFile.deleteMany({ where: { groupId, fileName } });
    return;
  }
  const f = state.file;
  const data = { size: BigInt(f.size), sha1: f.sha1, pieceSize: f.pieceSize, pieceHashes: f.pieceHashes, sharedAt: new Date(f.sharedAt) };
  const existing = await tx.sharedFile.findUnique({ where: { groupId_fileName: { groupId, fileName } }, select: { sha1: true, sharedAt: true } });
  if (!existing) await tx.sharedFile.create({ data: { groupId, fileName, ...data } });
  else if (existing.sha1 !== f.sha1 || existing.sharedAt.getTime() !== data.sharedAt.getTime()) {
    await tx.sharedFile.update({ where: { groupId_fileName: { groupId, fileName } }, data });
  }
  const held = new Map((await tx.holding.findMany({ where: { groupId, fileName } })).map((h) => [h.userId, h.piecesHeld]));
  const wanted = new Set(state.holdings.map((h) => h.userId));
  const gone = [...held.keys()].filter((userId) => !wanted.has(userId));
  if (gone.length > 0) await tx.holding.deleteMany({ where: { groupId, fileName, userId: { in: gone } } });
  for (const h of state.holdings) {
    const had = held.get(h.userId);
    const key = { groupId_fileName_userId: { groupId, fileName, userId: h.userId } };
    if (had === undefined) await tx.holding.create({ data: { groupId, fileName, userId: h.userId, piecesHeld: h.piecesHeld, updatedAt: new Date(h.updatedAt) } });
    else if (had !== h.piecesHeld) await tx.holding.update({ where: key, data: { piecesHeld: h.piecesHeld, updatedAt: new Date(h.updatedAt) } });
  }
}
