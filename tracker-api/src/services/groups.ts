import type { GroupPage, GroupView, JoinRequestPage, JoinRequestView, MemberPage, MemberView } from "../../../core/api-types.js";
import { ConflictError, ForbiddenError, NotFoundError } from "../../../core/errors.js";
import type { TrackerDb } from "../db/open.js";
import { ownerAfterLeaving } from "../domain/membership.js";
import { cursorAfter, cursorTime, keyAfter, pageOf, type PageRequest } from "../domain/paging.js";
import { Prisma } from "../generated/prisma/client.js";
import { writeTransaction } from "../replication/outbox.js";
import { filesChanged } from "./file-lists.js";
import type { Actor } from "./sessions.js";

type Tx = Parameters<Parameters<TrackerDb["$transaction"]>[0]>[0];

async function groupOrThrow(tx: Tx | TrackerDb, groupId: string) {
  const group = await tx.group.findUnique({ where: { id: groupId } });
  if (!group) throw new NotFoundError(`group "${groupId}" does not exist; list_groups shows the groups`, "GROUP_NOT_FOUND");
  return group;
}

async function requireOwner(tx: Tx, actor: Actor, groupId: string) {
  const group = await groupOrThrow(tx, groupId);
  if (group.ownerId !== actor.userId) {
    throw new ForbiddenError(`only the owner of "${groupId}" (${group.ownerId}) may do this`, "NOT_OWNER");
  }
  return group;
}

/** 404 for a group that does not exist, 403 for one the caller is not a member of. One query for a member. */
export async function requireMember(tx: Tx | TrackerDb, actor: Actor, groupId: string): Promise<void> {
  // On every group request: plain SQL costs a fraction of a Prisma model query.
  const [member] = await tx.$queryRaw<unknown[]>`
    SELECT 1 AS "member" FROM "Membership" WHERE "groupId" = ${groupId} AND "userId" = ${actor.userId}`;
  if (member) return;
  await groupOrThrow(tx, groupId);
  throw new ForbiddenError(`you are not a member of "${groupId}"; ask to join first`, "NOT_MEMBER");
}

export async function createGroup(db: TrackerDb, actor: Actor, groupId: string): Promise<GroupView> {
  const createdAt = new Date();
  return writeTransaction(db, async (tx, record) => {
    // Plain SQL (portable): three statements instead of three Prisma model queries.
    const created = await tx.$executeRaw`
      INSERT INTO "Group" ("id", "ownerId", "createdAt") VALUES (${groupId}, ${actor.userId}, ${createdAt}) ON CONFLICT ("id") DO NOTHING`;
    if (created === 0) throw new ConflictError(`group id "${groupId}" is taken; choose another`, "GROUP_EXISTS");
    await tx.$executeRaw`INSERT INTO "Membership" ("groupId", "userId", "joinedAt") VALUES (${groupId}, ${actor.userId}, ${createdAt})`;
    await record({ type: "group.created", payload: { groupId, ownerId: actor.userId, createdAt: createdAt.toISOString() } });
    return { groupId, owner: actor.userId, memberCount: 1, createdAt: createdAt.toISOString() };
  });
}

/** One page of all groups, by id, each with its owner and member count. */
export async function listGroups(db: TrackerDb, page: PageRequest): Promise<GroupPage> {
  const after = keyAfter(page.cursor, "groups", "", 1)?.[0];
  const groups = await db.group.findMany({
    where: after === undefined ? {} : { id: { gt: after } }, orderBy: { id: "asc" }, take: page.limit + 1,
  });
  const onPage = groups.slice(0, page.limit).map((g) => g.id);
  const counts = await db.membership.groupBy({ by: ["groupId"], where: { groupId: { in: onPage } }, _count: { _all: true } });
  const memberCount = new Map(counts.map((c) => [c.groupId, c._count._all]));
  return pageOf(groups, page.limit, (g) => ({
    groupId: g.id, owner: g.ownerId, memberCount: memberCount.get(g.id) ?? 0, createdAt: g.createdAt.toISOString(),
  }), (last) => cursorAfter("groups", "", [last.id]));
}

export async function requestJoin(db: TrackerDb, actor: Actor, groupId: string): Promise<JoinRequestView> {
  const requestedAt = new Date();
  return writeTransaction(db, async (tx, record) => {
    await groupOrThrow(tx, groupId);
    const key = { groupId_userId: { groupId, userId: actor.userId } };
    if (await tx.membership.findUnique({ where: key })) {
      throw new ConflictError(`you are already a member of "${groupId}"`, "ALREADY_MEMBER");
    }
    if (await tx.joinRequest.findUnique({ where: key })) {
      throw new ConflictError(`your request to join "${groupId}" is already pending`, "REQUEST_PENDING");
    }
    await tx.joinRequest.create({ data: { groupId, userId: actor.userId, requestedAt } });
    await record({ type: "joinRequest.created", payload: { groupId, userId: actor.userId, requestedAt: requestedAt.toISOString() } });
    return { groupId, userId: actor.userId, requestedAt: requestedAt.toISOString() };
  });
}

/** One page of a group's pending join requests, oldest first (owner only). */
export async function listJoinRequests(db: TrackerDb, actor: Actor, groupId: string, page: PageRequest): Promise<JoinRequestPage> {
  const after = keyAfter(page.cursor, "join-requests", groupId, 2);
  return db.$transaction(async (tx) => {
    await requireOwner(tx, actor, groupId);
    const requests = await tx.joinRequest.findMany({
      where: {
        groupId,
        ...(after && { OR: [{ requestedAt: { gt: cursorTime(after[0]!) } }, { requestedAt: cursorTime(after[0]!), userId: { gt: after[1]! } }] }),
      },
      orderBy: [{ requestedAt: "asc" }, { userId: "asc" }],
      take: page.limit + 1,
    });
    return pageOf(requests, page.limit, (r) => ({ groupId, userId: r.userId, requestedAt: r.requestedAt.toISOString() }),
      (last) => cursorAfter("join-requests", groupId, [last.requestedAt.toISOString(), last.userId]));
  });
}

async function takeRequest(tx: Tx, actor: Actor, groupId: string, userId: string): Promise<void> {
  await requireOwner(tx, actor, groupId);
  const removed = await tx.joinRequest.deleteMany({ where: { groupId, userId } });
  if (removed.count === 0) {
    throw new NotFoundError(`"${userId}" has no pending request to join "${groupId}"`, "REQUEST_NOT_FOUND");
  }
}

export async function acceptJoin(db: TrackerDb, actor: Actor, groupId: string, userId: string): Promise<MemberView> {
  const joinedAt = new Date();
  return writeTransaction(db, async (tx, record) => {
    await takeRequest(tx, actor, groupId, userId);
    await tx.membership.create({ data: { groupId, userId, joinedAt } });
    await record(
      { type: "joinRequest.accepted", payload: { groupId, userId } },
      { type: "membership.added", payload: { groupId, userId, joinedAt: joinedAt.toISOString() } },
    );
    return { userId, isOwner: false, joinedAt: joinedAt.toISOString() };
  });
}

export async function rejectJoin(db: TrackerDb, actor: Actor, groupId: string, userId: string): Promise<void> {
  await writeTransaction(db, async (tx, record) => {
    await takeRequest(tx, actor, groupId, userId);
    await record({ type: "joinRequest.rejected", payload: { groupId, userId } });
  });
}

/** One page of a group's members in the order they joined, owner flagged (members only). */
export async function listMembers(db: TrackerDb, actor: Actor, groupId: string, page: PageRequest): Promise<MemberPage> {
  const after = keyAfter(page.cursor, "members", groupId, 2);
  const [joinedAt, userId] = after ? [cursorTime(after[0]!), after[1]!] : [];
  // One query (a consistent snapshot on its own): the page of members with the owner, and whether the caller is a member.
  const members = await db.$queryRaw<{ userId: string; joinedAt: Date | string; ownerId: string; callerIsMember: unknown }[]>`
    SELECT m."userId", m."joinedAt", g."ownerId", EXISTS (
      SELECT 1 FROM "Membership" c WHERE c."groupId" = ${groupId} AND c."userId" = ${actor.userId}
    ) AS "callerIsMember"
    FROM "Membership" m JOIN "Group" g ON g."id" = m."groupId"
    WHERE m."groupId" = ${groupId}
      ${joinedAt ? Prisma.sql`AND (m."joinedAt" > ${joinedAt} OR (m."joinedAt" = ${joinedAt} AND m."userId" > ${userId}))` : Prisma.empty}
    ORDER BY m."joinedAt" ASC, m."userId" ASC LIMIT ${page.limit + 1}`;
  if (!members[0] || !Number(members[0].callerIsMember)) await requireMember(db, actor, groupId);
  return pageOf(members, page.limit, (m) => ({ userId: m.userId, isOwner: m.userId === m.ownerId, joinedAt: new Date(m.joinedAt).toISOString() }),
    (last) => cursorAfter("members", groupId, [new Date(last.joinedAt).toISOString(), last.userId]));
}

/** A member leaves: ownership passes on, the last one out deletes the group, their shares there end. */
export async function leaveGroup(db: TrackerDb, actor: Actor, groupId: string, userId: string): Promise<void> {
  if (userId !== actor.userId) throw new ForbiddenError("you can only remove yourself from a group", "NOT_SELF");
  await writeTransaction(db, async (tx, record) => {
    const group = await groupOrThrow(tx, groupId);
    const members = await tx.membership.findMany({ where: { groupId } });
    if (!members.some((m) => m.userId === userId)) {
      throw new ForbiddenError(`you are not a member of "${groupId}"`, "NOT_MEMBER");
    }
    const held = await tx.holding.findMany({ where: { groupId, userId }, select: { fileName: true } });
    await tx.membership.delete({ where: { groupId_userId: { groupId, userId } } });
    await tx.holding.deleteMany({ where: { groupId, userId } });
    const owner = ownerAfterLeaving(group.ownerId, members, userId);
    if (owner === undefined) {
      await tx.joinRequest.deleteMany({ where: { groupId } });
      await tx.holding.deleteMany({ where: { groupId } });
      await tx.sharedFile.deleteMany({ where: { groupId } });
      await tx.group.delete({ where: { id: groupId } });
    } else {
      if (owner !== group.ownerId) await tx.group.update({ where: { id: groupId }, data: { ownerId: owner } });
      // Files only the leaving member held leave the group with them.
      for (const file of await tx.sharedFile.findMany({ where: { groupId } })) {
        if ((await tx.holding.count({ where: { groupId, fileName: file.fileName } })) === 0) {
          await tx.sharedFile.delete({ where: { groupId_fileName: { groupId, fileName: file.fileName } } });
        }
      }
    }
    if (owner === undefined) await record({ type: "group.deleted", payload: { groupId } });
    else {
      await record(
        { type: "membership.removed", payload: { groupId, userId } },
        ...held.map(({ fileName }) => ({ type: "holding.removed" as const, payload: { groupId, fileName, userId } })),
        ...(owner !== group.ownerId ? [{ type: "group.ownerChanged" as const, payload: { groupId, ownerId: owner } }] : []),
      );
    }
  });
  filesChanged(db, groupId);
}
