import type { TrackerDb } from "../db/open.js";

/** Heartbeats of one session are replicated at most this often (the online window is 60 s). */
export const SEEN_EVERY_MS = 10_000;

const lastShared = new WeakMap<TrackerDb, Map<string, { at: number; peerAddress: string }>>();

/**
 * Whether a heartbeat should become a session.seen event: the first one of a
 * session, one whose peer address changed, or one SEEN_EVERY_MS after the last shared.
 */
export function heartbeatWorthSharing(db: TrackerDb, tokenHash: string, peerAddress: string, now: number): boolean {
  let sessions = lastShared.get(db);
  if (!sessions) lastShared.set(db, (sessions = new Map()));
  const last = sessions.get(tokenHash);
  if (last && last.peerAddress === peerAddress && now - last.at < SEEN_EVERY_MS) return false;
  if (sessions.size >= 100_000) sessions.delete(sessions.keys().next().value!);
  sessions.set(tokenHash, { at: now, peerAddress });
  return true;
}
