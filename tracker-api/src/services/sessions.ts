import { createHash, randomBytes } from "node:crypto";
import type { LoginRequest, LoginResult } from "../../../core/api-types.js";
import { UnauthorizedError } from "../../../core/errors.js";
import type { TrackerDb } from "../db/open.js";
import type { LoginThrottle } from "../domain/login-throttle.js";
import { hashPassword, verifyPassword } from "./passwords.js";

export const SESSION_TTL_MS = 24 * 60 * 60 * 1000;

// Compared against when the user does not exist, so a login takes as long either way.
const decoyHash = hashPassword("decoy password");

export function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export async function login(
  db: TrackerDb,
  throttle: LoginThrottle,
  input: LoginRequest,
  clientAddress: string,
): Promise<LoginResult> {
  const keys = [`user:${input.userId}`, `addr:${clientAddress}`];
  throttle.check(keys);
  const user = await db.user.findUnique({ where: { id: input.userId } });
  const matches = await verifyPassword(input.password, user?.passwordHash ?? (await decoyHash));
  if (!user || !matches) {
    throttle.recordFailure(keys);
    throw new UnauthorizedError("wrong user id or password", "BAD_CREDENTIALS");
  }
  throttle.recordSuccess(keys);
  const token = randomBytes(32).toString("base64url");
  const now = new Date();
  const expiresAt = new Date(now.getTime() + SESSION_TTL_MS);
  await db.session.create({
    data: { tokenHash: tokenHash(token), userId: user.id, peerAddress: input.peerAddress, createdAt: now, expiresAt, lastSeenAt: now },
  });
  return { token, userId: user.id, peerAddress: input.peerAddress, expiresAt: expiresAt.toISOString() };
}

export async function logout(db: TrackerDb, sessionTokenHash: string): Promise<void> {
  await db.session.deleteMany({ where: { tokenHash: sessionTokenHash } });
}

export interface Actor {
  userId: string;
  tokenHash: string;
}

/** Resolves a bearer token to its user; 401 for a missing, unknown or expired one. */
export async function authenticate(db: TrackerDb, authorization: string | undefined): Promise<Actor> {
  const token = /^Bearer ([A-Za-z0-9_-]{20,200})$/.exec(authorization ?? "")?.[1];
  if (!token) throw new UnauthorizedError("log in first: a bearer token is required", "UNAUTHENTICATED");
  const session = await db.session.findUnique({ where: { tokenHash: tokenHash(token) } });
  if (!session || session.expiresAt.getTime() <= Date.now()) {
    throw new UnauthorizedError("session expired or logged out; log in again", "SESSION_INVALID");
  }
  return { userId: session.userId, tokenHash: session.tokenHash };
}
