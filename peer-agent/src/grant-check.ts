import { decodeJwt, type JSONWebKeySet } from "jose";
import { Codes, ForbiddenError, UnauthorizedError } from "../../core/errors.js";
import type { GrantClaims } from "../../core/api-types.js";
import { verifyGrant } from "../../core/grant.js";
import type { GrantStatus } from "./grant-status.js";
import type { GrantCheck } from "./http/served-file.js";
import { AGENT } from "./config.js";



export interface PrefetchingGrantCheck extends GrantCheck {
  /** Refuses a grant (already checked) that no longer stands: GRANT_REVOKED. Not cached with the signature. */
  stands(token: string): Promise<void>;
  /**
   * Fetches the trackers' keys now, so that the first downloader to arrive
   * does not wait for them (a tracker round trip in front of its first
   * piece). Called once a tracker is known to answer (at login).
   */
  prefetch(): Promise<void>;
}

/**
 * Checks download grants against the public keys the trackers publish. The
 * keys are cached; a grant signed by a key not seen yet (a tracker that
 * started later or rotated its key) refreshes them, at most every few seconds,
 * so forged grants cannot make the agent hammer the trackers.
 */
export function createGrantCheck(
  fetchKeys: () => Promise<JSONWebKeySet>,
  options: { refetchAtMostEveryMs?: number; status?: GrantStatus } = {},
): PrefetchingGrantCheck {
  const refetchEveryMs = options.refetchAtMostEveryMs ?? AGENT.KEYS_REFETCH_AT_MOST_EVERY_MS;
  let keys: JSONWebKeySet = { keys: [] };
  let fetchedAt = 0;
  let fetching: Promise<void> | undefined;

  const refresh = (): Promise<void> => {
    fetching ??= fetchKeys()
      .then((fresh) => {
        keys = fresh;
      })
      .catch(() => undefined)
      .finally(() => {
        fetchedAt = Date.now();
        fetching = undefined;
      });
    return fetching;
  };

  const check: GrantCheck = async (token, expected) => {
    if (!token) throw new UnauthorizedError("a download grant from a tracker is required", Codes.GRANT_MISSING);
    if (keys.keys.length === 0 && Date.now() - fetchedAt > AGENT.KEYS_EMPTY_REFETCH_MS) await refresh();
    return (await verified(token, expected)).sub;
  };

  /** After the (cached) check of the signature, on every request: a verdict is kept by GrantStatus only for seconds. */
  const stands = async (token: string): Promise<void> => {
    if (options.status) await stillStands(decodeJwt(token) as unknown as GrantClaims, options.status);
  };

  const verified = async (token: string, expected: { groupId: string; sha1: string }): Promise<GrantClaims> => {
    try {
      return await verifyGrant(token, keys, expected);
    } catch (error) {
      const unknownKey = (error as { code?: string }).code === Codes.GRANT_UNKNOWN_KEY;
      if (!unknownKey || Date.now() - fetchedAt < refetchEveryMs) throw error;
      await refresh();
      return await verifyGrant(token, keys, expected);
    }
  };
  return Object.assign(check, { stands, prefetch: () => (keys.keys.length === 0 ? refresh() : Promise.resolve()) });
}

/** A signed grant still stands while its session is live and its user a member of its group (grant-status.ts). */
async function stillStands(claims: GrantClaims, status: GrantStatus): Promise<void> {
  if (claims.sid === undefined) throw new UnauthorizedError("grant is not bound to a session; ask the tracker for a fresh one", Codes.GRANT_INVALID);
  if (!(await status.stands({ userId: claims.sub, groupId: claims.grp, sessionId: claims.sid }, claims.iat * 1000))) {
    throw new ForbiddenError("grant revoked: its session ended or its user left the group", Codes.GRANT_REVOKED);
  }
}
