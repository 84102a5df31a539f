import type { ChangePasswordRequest } from "../../../core/api-types.js";
import { Codes, ForbiddenError } from "../../../core/errors.js";
import { inChunks } from "../db/chunks.js";
import type { TrackerDb } from "../db/open.js";
import type { SharedLoginThrottle } from "../replication/login-attempts.js";
import { writeTransaction } from "../replication/outbox.js";
import { hashPassword, verifyPassword } from "./passwords.js";
import { forgetSessions, type Actor } from "./sessions.js";

/**
 * Changes the caller's password and ends every other session of the account:
 * whoever else held a token (a stolen one, an old laptop) is out, and their
 * download grants stop working with them (grants are bound to the session that
 * asked for them). The caller's own session stays. Wrong current passwords
 * count as failed logins of the account: a stolen token must not become an
 * unthrottled way to guess the password.
 */
export async function changePassword(
  db: TrackerDb, throttle: SharedLoginThrottle, actor: Actor, input: ChangePasswordRequest, clientAddress: string,
): Promise<void> {
  throttle.check(actor.name, clientAddress);
  const user = await db.user.findUnique({ where: { id: actor.userId } });
  if (!user || !(await verifyPassword(input.currentPassword, user.passwordHash))) {
    throttle.record({ account: actor.name, address: clientAddress, accountExists: true, ok: false, at: Date.now() });
    throw new ForbiddenError("the current password is wrong", Codes.WRONG_PASSWORD);
  }
  const passwordHash = await hashPassword(input.newPassword);
  const ended = await writeTransaction(db, async (tx, record) => {
    await tx.user.update({ where: { id: actor.userId }, data: { passwordHash } });
    await record({ type: "user.passwordChanged", payload: { userId: actor.userId, passwordHash, changedAt: new Date().toISOString() } });
    const others = (await tx.session.findMany({ where: { userId: actor.userId, NOT: { tokenHash: actor.tokenHash } }, select: { tokenHash: true } }))
      .map((s) => s.tokenHash);
    await inChunks(others, async (chunk) => [await tx.session.deleteMany({ where: { tokenHash: { in: chunk } } })]);
    for (const tokenHash of others) await record({ type: "session.ended", payload: { tokenHash } });
    return others;
  });
  forgetSessions(db, ended, []);
}
