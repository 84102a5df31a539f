import { createLocalJWKSet, errors as joseErrors, jwtVerify, SignJWT, type JSONWebKeySet } from "jose";
import { createHash, type KeyObject, type webcrypto } from "node:crypto";
import type { GrantClaims } from "./api-types.js";
import { Codes, ForbiddenError, UnauthorizedError } from "./errors.js";

export const GRANT_ALGORITHM = "EdDSA";
export const GRANT_TTL_SECONDS = 600;

export interface GrantSubject {
  userId: string;
  groupId: string;
  sha1: string;
  fileName: string;
  /** The session that asked for it (grantSessionId): the grant dies with it. */
  sessionId?: string;
}

/**
 * What a grant names its session by: a hash of the session's token hash, so
 * the agents and peers that see the grant learn nothing they could present
 * to a tracker, while the tracker that knows the session can tell it is live.
 */
export function grantSessionId(tokenHash: string): string {
  return createHash("sha256").update(`grant-session\0${tokenHash}`).digest("base64url").slice(0, 22);
}

/** Signs a short-lived download grant (tracker side). */
export async function signGrant(
  subject: GrantSubject,
  key: { privateKey: webcrypto.CryptoKey | KeyObject; kid: string; issuer: string },
  ttlSeconds = GRANT_TTL_SECONDS,
  /** Milliseconds since the epoch: the signer's clock. */
  now = Date.now(),
): Promise<string> {
  const session = subject.sessionId === undefined ? {} : { sid: subject.sessionId };
  const issuedAt = Math.floor(now / 1000);
  return new SignJWT({ grp: subject.groupId, sha1: subject.sha1, file: subject.fileName, ...session })
    .setProtectedHeader({ alg: GRANT_ALGORITHM, kid: key.kid })
    .setSubject(subject.userId)
    .setIssuer(key.issuer)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + ttlSeconds)
    .sign(key.privateKey);
}

/**
 * Checks a grant presented to a peer agent: signed by one of the trackers'
 * keys, not expired, and naming this group and file. Anything else is refused:
 * 401 for a grant that proves nothing, 403 for a valid grant for something else.
 */
export async function verifyGrant(
  token: string,
  jwks: JSONWebKeySet,
  expected: { groupId: string; sha1: string },
): Promise<GrantClaims> {
  let claims: Record<string, unknown>;
  try {
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { algorithms: [GRANT_ALGORITHM] });
    claims = payload as Record<string, unknown>;
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw new UnauthorizedError("grant expired", Codes.GRANT_EXPIRED);
    if (error instanceof joseErrors.JWKSNoMatchingKey) {
      throw new UnauthorizedError("grant not signed by a known tracker key", Codes.GRANT_UNKNOWN_KEY);
    }
    throw new UnauthorizedError("grant is not valid", Codes.GRANT_INVALID);
  }
  const { sub, grp, sha1, file, iss, exp, iat, sid } = claims;
  if (typeof sub !== "string" || typeof grp !== "string" || typeof sha1 !== "string" || typeof file !== "string") {
    throw new UnauthorizedError("grant lacks user, group or file", Codes.GRANT_INVALID);
  }
  if (grp !== expected.groupId || sha1 !== expected.sha1) {
    throw new ForbiddenError("grant is for another group or file", Codes.GRANT_WRONG_FILE);
  }
  return { sub, grp, sha1, file, iss: String(iss ?? ""), exp: Number(exp), iat: Number(iat), ...(typeof sid === "string" ? { sid } : {}) };
}
