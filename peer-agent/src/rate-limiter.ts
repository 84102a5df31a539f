import { AGENT } from "./config.js";

/**
 * A token bucket shared by every transfer of one direction of an agent
 * (all uploads, or all downloads), so a limit holds for the agent as a whole
 * whatever the number of peers and files.
 *
 * An upload asks before moving a chunk: `delayFor(bytes)` is 0 when the
 * bucket is not in debt (the chunk goes, and is charged, possibly into
 * debt), else the milliseconds until the debt is paid, and nothing is
 * charged. Charging whole chunks into debt keeps large reads (cheap per byte)
 * while the average stays exact. The bucket holds half a second: enough
 * that a timer firing late on a busy machine does not lose rate (with 50 ms
 * the limit was undershot by ~10 % under load), short enough that the limit
 * holds within a few per cent over 10 s after an idle spell. A download learns of bytes
 * once they arrived: `charge(bytes)` counts them and says how long to stop
 * reading.
 */
export class RateLimiter {
  #bytesPerSecond: number | undefined;
  #tokens = 0;
  #refilledAt = performance.now();
  readonly #burstSeconds: number;

  /** `bytesPerSecond` undefined: unlimited. 0 lets nothing through (see `blocked`). */
  constructor(bytesPerSecond?: number, options: { burstSeconds?: number } = {}) {
    this.#burstSeconds = options.burstSeconds ?? AGENT.RATE_BURST_SECONDS;
    this.#bytesPerSecond = bytesPerSecond;
  }

  get bytesPerSecond(): number | undefined {
    return this.#bytesPerSecond;
  }

  /** Nothing may pass at all (a limit of 0). */
  get blocked(): boolean {
    return this.#bytesPerSecond === 0;
  }

  set(bytesPerSecond: number | undefined): void {
    this.#refill();
    this.#bytesPerSecond = bytesPerSecond;
    this.#tokens = Math.min(this.#tokens, this.#burst());
  }

  /** A chunk size that keeps the limit smooth: a tenth of a second's worth, within [16 KiB, max]. */
  chunkBytes(max: number): number {
    const rate = this.#bytesPerSecond;
    if (rate === undefined) return max;
    return Math.max(AGENT.RATE_MIN_CHUNK_BYTES, Math.min(max, Math.floor(rate / AGENT.RATE_CHUNKS_PER_SECOND)));
  }

  delayFor(bytes: number): number {
    const rate = this.#bytesPerSecond;
    if (rate === undefined) return 0;
    if (rate === 0) return Infinity;
    this.#refill();
    if (this.#tokens < 0) return Math.ceil((-this.#tokens / rate) * 1000);
    this.#tokens -= bytes;
    return 0;
  }

  /** For bytes that already moved (a download's received chunk): charges them and returns the ms until the debt is paid. */
  charge(bytes: number): number {
    const rate = this.#bytesPerSecond;
    if (rate === undefined || rate === 0) return 0;
    this.#refill();
    this.#tokens -= bytes;
    return this.#tokens < 0 ? Math.ceil((-this.#tokens / rate) * 1000) : 0;
  }

  #burst(): number {
    return (this.#bytesPerSecond ?? 0) * this.#burstSeconds;
  }

  #refill(): void {
    const now = performance.now();
    const rate = this.#bytesPerSecond ?? 0;
    this.#tokens = Math.min(this.#burst(), this.#tokens + ((now - this.#refilledAt) / 1000) * rate);
    this.#refilledAt = now;
  }
}
