import { inChunks } from "../db/chunks.js";
import type { GroupPage, GroupView, JoinRequestPage, JoinRequestView, MemberPage, MemberView } from "../../../core/api-types.js";
import { Codes, ConflictError, ForbiddenError, NotFoundError } from "../../../core/errors.js";
import type { TrackerDb, Tx } from "../db/open.js";
import { mayRemove, ownerAfterLeaving } from "../domain/membership.js";
import { cursorAfter, cursorTime, keyAfter, pageOf, type PageRequest } from "../domain/paging.js";
import { Prisma } from "../generated/prisma/client.js";
import { chosenName } from "../replication/apply-rules.js";
import { newGroupId } from "../replication/events.js";
import { groupQuotaLock, nameLock } from "../replication/write-locks.js";
import type { ServiceContext } from "./context.js";
import { randomId } from "./users.js";
import type { Actor } from "./sessions.js";


// Groups and users are addressed by name (the group id and user id people
// type) and stored under their internal ids: each function resolves the names
// it is given first, and answers with names.

/** The group now called `name` (its row: internal id, owner's internal id), or 404. */
export async function groupOrThrow(tx: Tx | TrackerDb, name: string) {
  const group = await tx.group.findUnique({ where: { name } });
  if (!group) throw new NotFoundError(`group "${name}" does not exist; list_groups shows the groups`, Codes.GROUP_NOT_FOUND);
  return group;
}

/** The internal id of the user now called `name`, or undefined. */
async function userIdOf(tx: Tx | TrackerDb, name: string): Promise<string | undefined> {
  return (await tx.user.findUnique({ where: { name }, select: { id: true } }))?.id;
}

/** The names of users, by internal id. */
export async function userNames(tx: Tx | TrackerDb, ids: readonly string[]): Promise<Map<string, string>> {
  const rows = await inChunks(ids, (chunk) => tx.user.findMany({ where: { id: { in: chunk } }, select: { id: true, name: true } }));
  return new Map(rows.map((row) => [row.id, row.name]));
}

async function requireOwner(tx: Tx, actor: Actor, groupName: string) {
  const group = await groupOrThrow(tx, groupName);
  if (group.ownerId !== actor.userId) {
    const owner = (await userNames(tx, [group.ownerId])).get(group.ownerId) ?? group.ownerId;
    throw new ForbiddenError(`only the owner of "${groupName}" (${owner}) may do this`, Codes.NOT_OWNER);
  }
  return group;
}

/**
 * The internal id of the group now called `groupName`: 404 for a group that
 * does not exist, 403 for one the caller is not a member of. One query.
 */
export async function requireMember(tx: Tx | TrackerDb, actor: Actor, groupName: string): Promise<string> {
  // On every group request: plain SQL costs a fraction of a Prisma model query.
  const [row] = await tx.$queryRaw<{ id: string; member: unknown }[]>`
    SELECT g."id", EXISTS (SELECT 1 FROM "Membership" m WHERE m."groupId" = g."id" AND m."userId" = ${actor.userId}) AS "member"
    FROM "Group" g WHERE g."name" = ${groupName}`;
  if (!row) throw new NotFoundError(`group "${groupName}" does not exist; list_groups shows the groups`, Codes.GROUP_NOT_FOUND);
  if (Boolean(Number(row.member))) return row.id;
  throw new ForbiddenError(`you are not a member of "${groupName}"; ask to join first`, Codes.NOT_MEMBER);
}

export async function createGroup(tracker: ServiceContext, actor: Actor, name: string): Promise<GroupView> {
  const createdAt = new Date(tracker.clock());
  const groupId = newGroupId(randomId());
  return tracker.outbox.write(async (tx, record) => {
    // Whether the name is taken and how many groups the caller owns, in one query (each statement costs 0.3-0.7 ms of
    // Prisma's client here; group creations are bench:sync's write). Counted in the write's transaction, so two
    // concurrent creates cannot both pass at the quota's edge.
    const [{ taken, owned }] = await tx.$queryRaw<[{ taken: unknown; owned: number | bigint }]>`
      SELECT EXISTS (SELECT 1 FROM "Group" WHERE "name" = ${name}) AS "taken",
        (SELECT COUNT(*) FROM "Group" WHERE "ownerId" = ${actor.userId}) AS "owned"`;
    if (Boolean(Number(taken))) {
      throw new ConflictError(`group id "${name}" is taken; choose another`, Codes.GROUP_EXISTS);
    }
    if (Number(owned) >= tracker.quotas.groupsOwned) {
      throw new ForbiddenError(`you own ${owned} groups, the most one user may own; delete or leave one first`, Codes.QUOTA_EXCEEDED);
    }
    await record({ type: "group.created", payload: { groupId, name, ownerId: actor.userId, createdAt: createdAt.toISOString(), by: actor.tokenHash } });
    return { groupId: name, owner: actor.name, memberCount: 1, createdAt: createdAt.toISOString() };
  }, { lock: [nameLock("group", name), groupQuotaLock(actor.userId)] });
}

/** One page of all groups, by id, each with its owner and member count. */
export async function listGroups(tracker: ServiceContext, page: PageRequest): Promise<GroupPage> {
  const { db } = tracker;
  const after = keyAfter(page.cursor, "groups", "", 1)?.[0];
  const groups = await db.group.findMany({
    where: after === undefined ? {} : { name: { gt: after } }, orderBy: { name: "asc" }, take: page.limit + 1,
  });
  const onPage = groups.slice(0, page.limit);
  const counts = await inChunks(onPage.map((g) => g.id), (chunk) =>
    db.membership.groupBy({ by: ["groupId"], where: { groupId: { in: chunk } }, _count: { _all: true } }));
  const memberCount = new Map(counts.map((c) => [c.groupId, c._count._all]));
  const owners = await userNames(db, [...new Set(onPage.map((g) => g.ownerId))]);
  return pageOf(groups, page.limit, (g) => ({
    groupId: g.name, owner: owners.get(g.ownerId) ?? g.ownerId, memberCount: memberCount.get(g.id) ?? 0, createdAt: g.createdAt.toISOString(),
  }), (last) => cursorAfter("groups", "", [last.name]));
}

export async function requestJoin(tracker: ServiceContext, actor: Actor, groupName: string): Promise<JoinRequestView> {
  const requestedAt = new Date(tracker.clock());
  return tracker.outbox.write(async (tx, record) => {
    const groupId = (await groupOrThrow(tx, groupName)).id;
    const key = { groupId_userId: { groupId, userId: actor.userId } };
    if (await tx.membership.findUnique({ where: key })) {
      throw new ConflictError(`you are already a member of "${groupName}"`, Codes.ALREADY_MEMBER);
    }
    if (await tx.joinRequest.findUnique({ where: key })) {
      throw new ConflictError(`your request to join "${groupName}" is already pending`, Codes.REQUEST_PENDING);
    }
    const pending = await tx.joinRequest.count({ where: { userId: actor.userId } });
    if (pending >= tracker.quotas.pendingJoinRequests) {
      throw new ForbiddenError(`you have ${pending} join requests pending, the most one user may have; wait for owners to answer them`, Codes.QUOTA_EXCEEDED);
    }
    await record({ type: "joinRequest.created", payload: { groupId, userId: actor.userId, requestedAt: requestedAt.toISOString() } });
    return { groupId: groupName, userId: actor.name, requestedAt: requestedAt.toISOString() };
  });
}

/** One page of a group's pending join requests, oldest first (owner only). */
export async function listJoinRequests(tracker: ServiceContext, actor: Actor, groupName: string, page: PageRequest): Promise<JoinRequestPage> {
  const { db } = tracker;
  const after = keyAfter(page.cursor, "join-requests", groupName, 2);
  return db.$transaction(async (tx) => {
    const groupId = (await requireOwner(tx, actor, groupName)).id;
    const requests = await tx.joinRequest.findMany({
      where: {
        groupId,
        ...(after && { OR: [{ requestedAt: { gt: cursorTime(after[0]!) } }, { requestedAt: cursorTime(after[0]!), userId: { gt: after[1]! } }] }),
      },
      orderBy: [{ requestedAt: "asc" }, { userId: "asc" }],
      take: page.limit + 1,
    });
    const names = await userNames(tx, [...new Set(requests.map((r) => r.userId))]);
    return pageOf(requests, page.limit, (r) => ({ groupId: groupName, userId: names.get(r.userId) ?? r.userId, requestedAt: r.requestedAt.toISOString() }),
      (last) => cursorAfter("join-requests", groupName, [last.requestedAt.toISOString(), last.userId]));
  });
}

/** Takes the pending request of the user now called `userName`; returns the group's and the user's internal ids. */
async function takeRequest(tx: Tx, actor: Actor, groupName: string, userName: string): Promise<{ groupId: string; userId: string }> {
  const groupId = (await requireOwner(tx, actor, groupName)).id;
  const userId = await userIdOf(tx, userName);
  const pending = userId !== undefined && (await tx.joinRequest.findUnique({ where: { groupId_userId: { groupId, userId } }, select: { userId: true } }));
  if (!pending) {
    throw new NotFoundError(`"${userName}" has no pending request to join "${groupName}"`, Codes.REQUEST_NOT_FOUND);
  }
  return { groupId, userId: userId! };
}

export async function acceptJoin(tracker: ServiceContext, actor: Actor, groupName: string, userName: string): Promise<MemberView> {
  const joinedAt = new Date(tracker.clock());
  return tracker.outbox.write(async (tx, record) => {
    const { groupId, userId } = await takeRequest(tx, actor, groupName, userName);
    await record(
      { type: "joinRequest.accepted", payload: { groupId, userId } },
      { type: "membership.added", payload: { groupId, userId, joinedAt: joinedAt.toISOString() } },
    );
    return { userId: userName, isOwner: false, joinedAt: joinedAt.toISOString() };
  });
}

export async function rejectJoin(tracker: ServiceContext, actor: Actor, groupName: string, userName: string): Promise<void> {
  await tracker.outbox.write(async (tx, record) => {
    const { groupId, userId } = await takeRequest(tx, actor, groupName, userName);
    await record({ type: "joinRequest.rejected", payload: { groupId, userId } });
  });
}

/** One page of a group's members in the order they joined, owner flagged (members only). */
export async function listMembers(tracker: ServiceContext, actor: Actor, groupName: string, page: PageRequest): Promise<MemberPage> {
  const { db } = tracker;
  const after = keyAfter(page.cursor, "members", groupName, 2);
  const [joinedAt, userId] = after ? [cursorTime(after[0]!), after[1]!] : [];
  // One query (a consistent snapshot on its own): the page of members with their names and the owner, and whether the caller is a member.
  const members = await db.$queryRaw<{ userId: string; name: string; joinedAt: Date | string; ownerId: string; callerIsMember: unknown }[]>`
    SELECT m."userId", u."name", m."joinedAt", g."ownerId", EXISTS (
      SELECT 1 FROM "Membership" c WHERE c."groupId" = g."id" AND c."userId" = ${actor.userId}
    ) AS "callerIsMember"
    FROM "Group" g JOIN "Membership" m ON m."groupId" = g."id" JOIN "User" u ON u."id" = m."userId"
    WHERE g."name" = ${groupName}
      ${joinedAt ? Prisma.sql`AND (m."joinedAt" > ${joinedAt} OR (m."joinedAt" = ${joinedAt} AND m."userId" > ${userId}))` : Prisma.empty}
    ORDER BY m."joinedAt" ASC, m."userId" ASC LIMIT ${page.limit + 1}`;
  if (!members[0] || !Number(members[0].callerIsMember)) await requireMember(db, actor, groupName);
  return pageOf(members, page.limit, (m) => ({ userId: m.name, isOwner: m.userId === m.ownerId, joinedAt: new Date(m.joinedAt).toISOString() }),
    (last) => cursorAfter("members", groupName, [new Date(last.joinedAt).toISOString(), last.userId]));
}

/**
 * A member leaves, or the owner removes them: ownership passes on, the last
 * one out deletes the group, their shares there end (and the download grants
 * they hold are refused by agents within seconds: GrantsController.status).
 */
export async function leaveGroup(tracker: ServiceContext, actor: Actor, groupName: string, userName: string): Promise<void> {
  await tracker.outbox.write(async (tx, record) => {
    const group = await groupOrThrow(tx, groupName);
    const groupId = group.id;
    const userId = userName === actor.name ? actor.userId : (await tx.user.findUnique({ where: { name: userName }, select: { id: true } }))?.id ?? "";
    if (!mayRemove(actor.userId, group.ownerId, userId)) {
      throw new ForbiddenError(`only the owner of "${groupName}" may remove another member; you can remove yourself`, Codes.NOT_SELF);
    }
    const members = await tx.membership.findMany({ where: { groupId } });
    if (!members.some((m) => m.userId === userId)) {
      throw new ForbiddenError(userId === actor.userId ? `you are not a member of "${groupName}"` : `"${userName}" is not a member of "${groupName}"`, Codes.NOT_MEMBER);
    }
    const held = await tx.holding.findMany({ where: { groupId, userId }, select: { fileName: true } });
    const owner = ownerAfterLeaving(group.ownerId, members, userId);
    // The projection removes the rows: the group when it empties, else the member, their holdings, and files nobody holds any more.
    // The deleted group gives back the name it was created under (a `~N` it got from a conflict was not chosen).
    if (owner === undefined) await record({ type: "group.deleted", payload: { groupId, name: chosenName(group.name) } });
    else {
      await record(
        { type: "membership.removed", payload: { groupId, userId } },
        ...held.map(({ fileName }) => ({ type: "holding.removed" as const, payload: { groupId, fileName, userId } })),
        ...(owner !== group.ownerId ? [{ type: "group.ownerChanged" as const, payload: { groupId, ownerId: owner } }] : []),
      );
    }
  });
}
