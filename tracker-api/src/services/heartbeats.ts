import { TRACKER } from "../config.js";

/**
 * One tracker's memory of the last heartbeat it shared per session, so that a
 * heartbeat becomes a session.seen event only when the others need to know.
 */
export class HeartbeatCoalescer {
  readonly #lastShared = new Map<string, { at: number; peerAddress: string }>();

  /**
   * Whether a heartbeat should become a session.seen event: the first one of a
   * session, one whose peer address changed, or one TRACKER.SEEN_EVERY_MS after the last shared.
   */
  worthSharing(tokenHash: string, peerAddress: string, now: number): boolean {
    const last = this.#lastShared.get(tokenHash);
    if (last && last.peerAddress === peerAddress && now - last.at < TRACKER.SEEN_EVERY_MS) return false;
    if (this.#lastShared.size >= TRACKER.MAX_REMEMBERED_HEARTBEATS) this.#lastShared.delete(this.#lastShared.keys().next().value!);
    this.#lastShared.set(tokenHash, { at: now, peerAddress });
    return true;
  }
}
