import type { ChangePasswordRequest } from "../../../core/api-types.js";
import { Codes, ForbiddenError } from "../../../core/errors.js";
import type { ServiceContext } from "./context.js";
import { hashPassword, verifyPassword } from "./passwords.js";
import type { Actor } from "./sessions.js";

/**
 * Changes the caller's password and ends every other session of the account:
 * whoever else held a token (a stolen one, an old laptop) is out, and their
 * download grants stop working with them (grants are bound to the session that
 * asked for them). The caller's own session stays. Wrong current passwords
 * count as failed logins of the account: a stolen token must not become an
 * unthrottled way to guess the password.
 */
export async function changePassword(
  tracker: ServiceContext, actor: Actor, input: ChangePasswordRequest, clientAddress: string,
): Promise<void> {
  const { db, loginThrottle: throttle } = tracker;
  throttle.check(actor.name, clientAddress);
  const user = await db.user.findUnique({ where: { id: actor.userId } });
  if (!user || !(await verifyPassword(input.currentPassword, user.passwordHash))) {
    throttle.record({ account: actor.name, address: clientAddress, accountExists: true, ok: false, at: tracker.clock() });
    throw new ForbiddenError("the current password is wrong", Codes.WRONG_PASSWORD);
  }
  const passwordHash = await hashPassword(input.newPassword);
  // The projection stores the hash and ends the sessions, and tells the session cache.
  await tracker.outbox.write(async (tx, record) => {
    const others = (await tx.session.findMany({ where: { userId: actor.userId, NOT: { tokenHash: actor.tokenHash } }, select: { tokenHash: true } }))
      .map((s) => s.tokenHash);
    await record(
      { type: "user.passwordChanged", payload: { userId: actor.userId, passwordHash, changedAt: new Date(tracker.clock()).toISOString() } },
      ...others.map((tokenHash) => ({ type: "session.ended" as const, payload: { tokenHash } })),
    );
  });
}
