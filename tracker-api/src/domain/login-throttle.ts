import { TooManyRequestsError } from "../../../core/errors.js";

/**
 * Counts failed logins per key (user id, client address) in a sliding window.
 * After `maxFailures` failures a key is refused until the oldest failure leaves
 * the window; a success clears the key. The clock is injected for tests.
 */
export class LoginThrottle {
  readonly #failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures = 5,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws TooManyRequestsError if any key is throttled. */
  check(keys: string[]): void {
    const now = this.now();
    for (const key of keys) {
      const recent = this.#recent(key, now);
      if (recent.length >= this.maxFailures) {
        const retryAfterSeconds = Math.max(1, Math.ceil((recent[0]! + this.windowMs - now) / 1000));
        throw new TooManyRequestsError(
          `too many failed logins; try again in ${retryAfterSeconds} s`,
          retryAfterSeconds,
          "LOGIN_THROTTLED",
        );
      }
    }
  }

  recordFailure(keys: string[]): void {
    const now = this.now();
    for (const key of keys) this.#failures.set(key, [...this.#recent(key, now), now]);
  }

  recordSuccess(keys: string[]): void {
    for (const key of keys) this.#failures.delete(key);
  }

  #recent(key: string, now: number): number[] {
    return (this.#failures.get(key) ?? []).filter((at) => at > now - this.windowMs);
  }
}
