/** Membership rules, as pure functions of plain data. */

export interface Member {
  userId: string;
  joinedAt: Date;
}

/**
 * Who owns a group after `leaving` leaves: the owner stays unless it is the
 * owner who leaves; then the member who joined earliest (ties by user id)
 * takes over. Undefined means nobody is left and the group is deleted.
 */
export function ownerAfterLeaving(ownerId: string, members: readonly Member[], leaving: string): string | undefined {
  const remaining = members.filter((m) => m.userId !== leaving);
  if (remaining.length === 0) return undefined;
  if (ownerId !== leaving) return ownerId;
  const [next] = [...remaining].sort(
    (a, b) => a.joinedAt.getTime() - b.joinedAt.getTime() || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0),
  );
  return next!.userId;
}

/**
 * Who may take `target` out of a group: the member themselves (leaving) or
 * the group's owner (removing them, e.g. someone who should no longer get the
 * files). A member can never remove another.
 */
export function mayRemove(actorId: string, ownerId: string, targetId: string): boolean {
  return actorId === targetId || actorId === ownerId;
}
