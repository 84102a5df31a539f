/**
 * Rebuilding every row of one group from its registers, through Prisma's
 * query API: rare (a group whose creation lost a conflict, was deleted, or
 * arrived after its requests and files), so clarity over speed here.
 */
import { inChunks } from "../db/chunks.js";
import type { Tx } from "../db/open.js";
import { fileState, groupState, requestState, type Register } from "./apply-rules.js";
import { readRegister, readRegisters } from "./registers.js";

/** Rebuilds every row of a group from its registers (after a creation, a lost creation conflict or a deletion). */
export async function materializeGroup(tx: Tx, groupId: string, group: Register | undefined, firstCreation: boolean): Promise<void> {
  // Rows follow registers, so a group id never seen before has no rows to clear, nor requests or files.
  const name = (await tx.group.findUnique({ where: { id: groupId }, select: { name: true } }))?.name ?? groupId;
  if (!firstCreation) {
    await tx.holding.deleteMany({ where: { groupId } });
    await tx.sharedFile.deleteMany({ where: { groupId } });
    await tx.joinRequest.deleteMany({ where: { groupId } });
    await tx.membership.deleteMany({ where: { groupId } });
    await tx.group.deleteMany({ where: { id: groupId } });
  }
  if (!group?.live) return;
  if (firstCreation) {
    await materializeMembers(tx, group, name);
    return;
  }
  await materializeMembers(tx, group, name);
  for (const request of await readRegisters(tx, { kind: "request", groupId, incarnation: group.hlc })) {
    await materializeRequest(tx, group, request.userId);
  }
  for (const file of await readRegisters(tx, { kind: "file", groupId, incarnation: group.hlc })) {
    await materializeFile(tx, group, file.fileName);
  }
}

/** `name`: the group's row's name (its id until the names of the batch are written, see RegisterBatch.#writeNames). */
async function materializeMembers(tx: Tx, group: Register, name: string): Promise<void> {
  const where = { groupId: group.groupId, incarnation: group.hlc };
  const owner = await readRegister(tx, { kind: "owner", ...where, fileName: "", userId: "" });
  const state = groupState(group, owner, await readRegisters(tx, { kind: "member", ...where }));
  if (!state) return;
  const { id, ownerId, createdAt } = state.group;
  await tx.group.upsert({ where: { id }, create: { id, name, ownerId, createdAt: new Date(createdAt) }, update: { ownerId } });
  const existing = new Map((await tx.membership.findMany({ where: { groupId: id } })).map((m) => [m.userId, m.joinedAt.getTime()]));
  const wanted = new Set(state.members.map((m) => m.userId));
  const gone = [...existing.keys()].filter((userId) => !wanted.has(userId));
  await inChunks(gone, async (chunk) => [await tx.membership.deleteMany({ where: { groupId: id, userId: { in: chunk } } })]);
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
  const data = {
    size: BigInt(f.size), sha1: f.sha1, pieceSize: f.pieceSize, pieceHashes: f.pieceHashes, sharedAt: new Date(f.sharedAt),
    fileCount: f.fileCount, manifest: f.manifest,
  };
  const existing = await tx.sharedFile.findUnique({ where: { groupId_fileName: { groupId, fileName } }, select: { sha1: true, sharedAt: true, manifest: true } });
  if (!existing) await tx.sharedFile.create({ data: { groupId, fileName, ...data } });
  else if (existing.sha1 !== f.sha1 || existing.sharedAt.getTime() !== data.sharedAt.getTime() || existing.manifest !== f.manifest) {
    await tx.sharedFile.update({ where: { groupId_fileName: { groupId, fileName } }, data });
  }
  const held = new Map((await tx.holding.findMany({ where: { groupId, fileName } })).map((h) => [h.userId, h.piecesHeld]));
  const wanted = new Set(state.holdings.map((h) => h.userId));
  const gone = [...held.keys()].filter((userId) => !wanted.has(userId));
  await inChunks(gone, async (chunk) => [await tx.holding.deleteMany({ where: { groupId, fileName, userId: { in: chunk } } })]);
  for (const h of state.holdings) {
    const had = held.get(h.userId);
    const key = { groupId_fileName_userId: { groupId, fileName, userId: h.userId } };
    if (had === undefined) await tx.holding.create({ data: { groupId, fileName, userId: h.userId, piecesHeld: h.piecesHeld, updatedAt: new Date(h.updatedAt) } });
    else if (had !== h.piecesHeld) await tx.holding.update({ where: key, data: { piecesHeld: h.piecesHeld, updatedAt: new Date(h.updatedAt) } });
  }
}
