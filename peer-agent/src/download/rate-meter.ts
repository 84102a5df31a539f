import { AGENT } from "../config.js";

/**
 * Bytes per second over the last AGENT.RATE_WINDOW_MS, kept in fixed time buckets:
 * once nothing arrives for a whole window the rate is 0, where an average
 * since the start would only creep down.
 */
export class RateMeter {
  readonly #buckets = new Float64Array(AGENT.RATE_WINDOW_MS / AGENT.RATE_BUCKET_MS);
  /** Index (time / AGENT.RATE_BUCKET_MS) of the newest bucket written. */
  #newest = 0;
  readonly #startedAt: number;

  constructor(now: number) {
    this.#startedAt = now;
    this.#newest = Math.floor(now / AGENT.RATE_BUCKET_MS);
  }

  add(bytes: number, now: number): void {
    this.#advance(now);
    this.#buckets[this.#newest % this.#buckets.length]! += bytes;
  }

  bytesPerSecond(now: number): number {
    this.#advance(now);
    let sum = 0;
    for (const bytes of this.#buckets) sum += bytes;
    // A download younger than the window is measured over its own age.
    const span = Math.min(AGENT.RATE_WINDOW_MS, Math.max(AGENT.RATE_BUCKET_MS, now - this.#startedAt));
    return (sum / span) * 1000;
  }

  /** Empties the buckets that fell out of the window since the last call. */
  #advance(now: number): void {
    const current = Math.floor(now / AGENT.RATE_BUCKET_MS);
    const steps = Math.min(current - this.#newest, this.#buckets.length);
    for (let i = 1; i <= steps; i++) this.#buckets[(this.#newest + i) % this.#buckets.length] = 0;
    if (current > this.#newest) this.#newest = current;
  }
}
