import type { CreateUserRequest, UserView } from "../../../core/api-types.js";
import { ConflictError } from "../../../core/errors.js";
import type { TrackerDb } from "../db/open.js";
import { writeTransaction } from "../replication/outbox.js";
import { hashPassword } from "./passwords.js";

export async function createUser(db: TrackerDb, input: CreateUserRequest): Promise<UserView> {
  const passwordHash = await hashPassword(input.password);
  const createdAt = new Date();
  const created = await writeTransaction(db, async (tx, record) => {
    if (await tx.user.findUnique({ where: { id: input.userId } })) return undefined;
    const user = await tx.user.create({ data: { id: input.userId, passwordHash, createdAt } });
    await record({ type: "user.created", payload: { userId: user.id, passwordHash, createdAt: createdAt.toISOString() } });
    return user;
  });
  if (!created) throw new ConflictError(`user id "${input.userId}" is taken; choose another`, "USER_EXISTS");
  return { userId: created.id, createdAt: created.createdAt.toISOString() };
}
