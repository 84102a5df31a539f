import type { GrantInUse } from "../../../core/api-types.js";
import { grantSessionId } from "../../../core/grant.js";
import { inChunks } from "../db/chunks.js";
import type { ServiceContext } from "./context.js";

/**
 * Whether grants an agent is serving still stand: the session that asked for
 * each is live and its user still a member of its group. Agents ask about the
 * grants in use every few seconds (peer-agent/src/grant-status.ts), so a
 * leave, a removal, a logout or a password change, here or replicated from
 * another tracker, stops the ranges within seconds. A handful of indexed
 * queries per batch, whatever its size.
 */
export async function grantStatus(tracker: ServiceContext, grants: readonly GrantInUse[]): Promise<boolean[]> {
  const { db } = tracker;
  const names = [...new Set(grants.map((g) => g.userId))];
  const groupNames = [...new Set(grants.map((g) => g.groupId))];
  const users = await inChunks(names, (chunk) => db.user.findMany({ where: { name: { in: chunk } }, select: { id: true, name: true } }));
  const groups = await inChunks(groupNames, (chunk) => db.group.findMany({ where: { name: { in: chunk } }, select: { id: true, name: true } }));
  const userIds = users.map((u) => u.id);
  const groupIds = groups.map((g) => g.id);
  const now = new Date(tracker.clock());
  const sessions = await inChunks(userIds, (chunk) =>
    db.session.findMany({ where: { userId: { in: chunk }, expiresAt: { gt: now } }, select: { userId: true, tokenHash: true } }));
  // A batch names at most 200 groups (GrantStatusRequest), so a chunk of users and the groups stay under SQLite's 999 values.
  const members = groupIds.length === 0 ? [] : await inChunks(userIds, (chunk) =>
    db.membership.findMany({ where: { userId: { in: chunk }, groupId: { in: groupIds } }, select: { userId: true, groupId: true } }));
  const userOf = new Map(users.map((u) => [u.name, u.id]));
  const groupOf = new Map(groups.map((g) => [g.name, g.id]));
  const live = new Set(sessions.map((s) => `${s.userId} ${grantSessionId(s.tokenHash)}`));
  const member = new Set(members.map((m) => `${m.userId} ${m.groupId}`));
  return grants.map((g) => {
    const userId = userOf.get(g.userId);
    const groupId = groupOf.get(g.groupId);
    return userId !== undefined && groupId !== undefined && live.has(`${userId} ${g.sessionId}`) && member.has(`${userId} ${groupId}`);
  });
}
