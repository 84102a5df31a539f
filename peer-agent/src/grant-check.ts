import type { JSONWebKeySet } from "jose";
import { UnauthorizedError } from "../../core/errors.js";
import { verifyGrant } from "../../core/grant.js";
import type { GrantCheck } from "./http/served-file.js";

/** How often an unknown signing key may trigger a fresh fetch of the trackers' keys. */
const REFETCH_AT_MOST_EVERY_MS = 5000;

export interface PrefetchingGrantCheck extends GrantCheck {
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
  options: { refetchAtMostEveryMs?: number } = {},
): PrefetchingGrantCheck {
  const refetchEveryMs = options.refetchAtMostEveryMs ?? REFETCH_AT_MOST_EVERY_MS;
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
    if (!token) throw new UnauthorizedError("a download grant from a tracker is required", "GRANT_MISSING");
    if (keys.keys.length === 0 && Date.now() - fetchedAt > 1000) await refresh();
    try {
      return (await verifyGrant(token, keys, expected)).sub;
    } catch (error) {
      const unknownKey = (error as { code?: string }).code === "GRANT_UNKNOWN_KEY";
      if (!unknownKey || Date.now() - fetchedAt < refetchEveryMs) throw error;
      await refresh();
      return (await verifyGrant(token, keys, expected)).sub;
    }
  };
  return Object.assign(check, { prefetch: () => (keys.keys.length === 0 ? refresh() : Promise.resolve()) });
}
