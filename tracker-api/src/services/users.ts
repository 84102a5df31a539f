import { randomBytes } from "node:crypto";
import type { CreateUserRequest, UserView } from "../../../core/api-types.js";
import { Codes, ConflictError } from "../../../core/errors.js";
import { newUserId } from "../replication/events.js";
import { nameLock } from "../replication/write-locks.js";
import type { ServiceContext } from "./context.js";
import { hashPassword } from "./passwords.js";

/** 96 random bits: internal ids made on different trackers never meet. */
export const randomId = (): string => randomBytes(12).toString("hex");

export async function createUser(tracker: ServiceContext, input: CreateUserRequest): Promise<UserView> {
  const passwordHash = await hashPassword(input.password);
  const createdAt = new Date(tracker.clock());
  const name = input.userId;
  const created = await tracker.outbox.write(async (tx, record) => {
    if (await tx.user.findUnique({ where: { name }, select: { id: true } })) return false;
    await record({ type: "user.created", payload: { userId: newUserId(randomId()), name, passwordHash, createdAt: createdAt.toISOString() } });
    return true;
    // Two creations of one name side by side (API processes on PostgreSQL): the second sees the first and is refused.
  }, { lock: [nameLock("user", name)] });
  if (!created) throw new ConflictError(`user id "${name}" is taken; choose another`, Codes.USER_EXISTS);
  return { userId: name, createdAt: createdAt.toISOString() };
}
