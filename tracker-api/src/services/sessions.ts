import { inChunks } from "../db/chunks.js";
import { createHash, randomBytes } from "node:crypto";
import type { LoginRequest, LoginResult } from "../../../core/api-types.js";
import { Codes, UnauthorizedError } from "../../../core/errors.js";
import { TRACKER } from "../config.js";
import type { TrackerDb } from "../db/open.js";
import { chosenName } from "../replication/apply-rules.js";
import type { ServiceContext } from "./context.js";
import { hashPassword, verifyPassword } from "./passwords.js";

// Compared against when the user does not exist, so a login takes as long either way.
const decoyHash = hashPassword("decoy password");

export function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export async function login(tracker: ServiceContext, input: LoginRequest, clientAddress: string): Promise<LoginResult> {
  const { db, loginThrottle: throttle } = tracker;
  throttle.check(input.userId, clientAddress);
  const user = await db.user.findUnique({ where: { name: input.userId } });
  const matches = await verifyPassword(input.password, user?.passwordHash ?? (await decoyHash));
  const attempt = { account: input.userId, address: clientAddress, accountExists: user !== null, at: tracker.clock() };
  if (!user || !matches) {
    throttle.record({ ...attempt, ok: false });
    throw new UnauthorizedError("wrong user id or password", Codes.BAD_CREDENTIALS);
  }
  throttle.record({ ...attempt, ok: true });
  const token = randomBytes(32).toString("base64url");
  const now = new Date(tracker.clock());
  const expiresAt = new Date(now.getTime() + TRACKER.SESSION_TTL_MS);
  const session = { tokenHash: tokenHash(token), userId: user.id, peerAddress: input.peerAddress, peerCertSha256: input.peerCertSha256 ?? null, createdAt: now, expiresAt };
  await tracker.outbox.write(async (_tx, record) => {
    await record({ type: "session.created", payload: { ...session, createdAt: now.toISOString(), expiresAt: expiresAt.toISOString() } });
  });
  return { token, userId: user.name, peerAddress: input.peerAddress, expiresAt: expiresAt.toISOString(), notices: await noticesFor(db, user.id) };
}

/**
 * What a user must be told: their user id, or a group they belong to, was
 * created on two trackers at once during a partition and went to the other
 * creation; theirs kept all of its data under a new name (`name~2`). Names
 * people choose have no `~`, so a name with one is always such a rename.
 */
export async function noticesFor(db: TrackerDb, userId: string): Promise<string[]> {
  const memberOf = (await db.membership.findMany({ where: { userId }, select: { groupId: true } })).map((m) => m.groupId);
  const user = await db.user.findUnique({ where: { id: userId }, select: { name: true } });
  const groups = (await inChunks(memberOf, (chunk) =>
    db.group.findMany({ where: { name: { contains: "~" }, id: { in: chunk } }, select: { name: true } }))).sort((a, b) => (a.name < b.name ? -1 : 1));
  const notices: string[] = [];
  if (user && user.name !== chosenName(user.name)) {
    notices.push(`user id "${chosenName(user.name)}" was also created on another tracker during a network partition and went to that account; yours is now "${user.name}", with all its groups and files: log in as "${user.name}"`);
  }
  for (const { name } of groups) {
    notices.push(`group "${chosenName(name)}" was also created on another tracker during a network partition and went to that group; yours is now "${name}", with all its members and files`);
  }
  return notices;
}

export async function logout(tracker: ServiceContext, sessionTokenHash: string): Promise<void> {
  // The projection ends the session and tells the session cache.
  await tracker.outbox.write(async (_tx, record) => {
    await record({ type: "session.ended", payload: { tokenHash: sessionTokenHash } });
  });
}

export interface Actor {
  /** The internal id of the user (what rows and events refer to). */
  userId: string;
  /** The user id as people type it, now (a name conflict may have changed it since the login). */
  name: string;
  tokenHash: string;
}

/**
 * One tracker's sessions already looked up, by token hash: every
 * authenticated request needs one, and a session only ever ends by expiring
 * (checked on use) or by logout (which removes it here). Bounded; the oldest
 * entries make room. A lookup that overlapped a logout is not remembered, so
 * a revoked token cannot come back.
 */
export class SessionCache {
  readonly #sessions = new Map<string, { userId: string; name: string; expiresAt: number }>();
  #logouts = 0;

  constructor(private readonly db: TrackerDb) {}

  /** The session of a token hash, from memory or the database. */
  async lookUp(hash: string): Promise<{ userId: string; name: string; expiresAt: number } | undefined> {
    const known = this.#sessions.get(hash);
    if (known) return known;
    const logouts = this.#logouts;
    const [row] = await this.db.$queryRaw<{ userId: string; name: string; expiresAt: Date | string | number }[]>`
      SELECT s."userId", u."name", s."expiresAt" FROM "Session" s JOIN "User" u ON u."id" = s."userId" WHERE s."tokenHash" = ${hash}`;
    if (!row) return undefined;
    const session = { userId: row.userId, name: row.name, expiresAt: new Date(row.expiresAt).getTime() };
    if (this.#logouts === logouts) {
      if (this.#sessions.size >= TRACKER.MAX_KNOWN_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value!);
      this.#sessions.set(hash, session);
    }
    return session;
  }

  /** Drops cached sessions that ended (a logout here or elsewhere, or every session of a user whose account lost an id conflict); all of them when names changed. */
  forget(tokenHashes: Iterable<string>, userIds: Iterable<string>, renamed = false): void {
    if (renamed) this.#sessions.clear();
    for (const hash of tokenHashes) this.#sessions.delete(hash);
    const users = new Set(userIds);
    if (users.size > 0) {
      for (const [hash, session] of this.#sessions) if (users.has(session.userId)) this.#sessions.delete(hash);
    }
    this.#logouts++;
  }
}

/** Resolves a bearer token to its user; 401 for a missing, unknown or expired one. */
export async function authenticate(tracker: ServiceContext, authorization: string | undefined): Promise<Actor> {
  const token = /^Bearer ([A-Za-z0-9_-]{20,200})$/.exec(authorization ?? "")?.[1];
  if (!token) throw new UnauthorizedError("log in first: a bearer token is required", Codes.UNAUTHENTICATED);
  const hash = tokenHash(token);
  const session = await tracker.sessions.lookUp(hash);
  if (!session || session.expiresAt <= tracker.clock()) {
    tracker.sessions.forget([hash], []);
    throw new UnauthorizedError("session expired or logged out; log in again", Codes.SESSION_INVALID);
  }
  return { userId: session.userId, name: session.name, tokenHash: hash };
}
