import { Codes, TooManyRequestsError } from "../../../core/errors.js";

/**
 * Failed-login throttling as careful login systems do it (OWASP's
 * authentication guidance, Ory's and Keycloak's brute-force detection), a
 * pure function of what it was told; the clock is injected.
 *
 * Three counters, each with exponential backoff once its free attempts are
 * used (a wait of `baseDelayMs`, doubling per further failure, at most
 * `maxDelayMs`; forgotten after `forgetMs` without failures):
 * - per account: failures from addresses the account never logged in from.
 *   A stranger's guesses lock strangers out, never the owner at home: an
 *   address the account logged in from successfully before ("known") skips it.
 * - per account and address: failures of that pair, so a known address is
 *   not a way around the account counter for someone who shares it.
 * - per address: failures against any account, with a much larger allowance,
 *   so the users behind one NAT are not all locked by a few failures against
 *   different accounts; only an address that is clearly attacking (many
 *   failures, usually over many accounts) is throttled as a whole.
 *
 * Trackers share what they record (TrackerLoginThrottle sends every failure
 * and success to the others over the replication link), so moving to another
 * tracker gains an attacker nothing. Memory is bounded: accounts are counted
 * only when they exist, and each map keeps at most `maxEntries` keys (the
 * oldest make room), so a flood of made-up names or addresses costs a bounded
 * amount and evicts only other strangers' counters first.
 */
export interface LoginThrottleConfig {
  accountFreeFailures: number;
  pairFreeFailures: number;
  addressFreeFailures: number;
  baseDelayMs: number;
  maxDelayMs: number;
  forgetMs: number;
  knownAddressesPerAccount: number;
  maxEntries: number;
}

/** One login attempt's outcome, as recorded here and shared with the other trackers. */
export interface LoginAttempt {
  account: string;
  address: string;
  /** Whether the account exists (failures against made-up names count on the address only). */
  accountExists: boolean;
  ok: boolean;
  at: number;
}

interface Counter {
  failures: number;
  lastFailureAt: number;
}

export class LoginThrottle {
  readonly #accounts = new Map<string, Counter>();
  readonly #pairs = new Map<string, Counter>();
  readonly #addresses = new Map<string, Counter>();
  readonly #known = new Map<string, string[]>();

  constructor(
    private readonly config: LoginThrottleConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws TooManyRequestsError (LOGIN_THROTTLED, with Retry-After) when this attempt must wait. */
  check(account: string, address: string): void {
    const now = this.now();
    const waits = [
      this.#wait(this.#addresses.get(address), this.config.addressFreeFailures, now),
      this.#wait(this.#pairs.get(pairKey(account, address)), this.config.pairFreeFailures, now),
      this.isKnown(account, address) ? 0 : this.#wait(this.#accounts.get(account), this.config.accountFreeFailures, now),
    ];
    const waitMs = Math.max(...waits);
    if (waitMs > 0) {
      const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
      throw new TooManyRequestsError(`too many failed logins; try again in ${retryAfterSeconds} s`, retryAfterSeconds, Codes.LOGIN_THROTTLED);
    }
  }

  /** Records an attempt made here or on another tracker. */
  record(attempt: LoginAttempt): void {
    const { account, address, at } = attempt;
    if (attempt.ok) {
      this.#pairs.delete(pairKey(account, address));
      this.#remember(account, address);
      return;
    }
    this.#count(this.#addresses, address, at);
    if (!attempt.accountExists) return;
    this.#count(this.#pairs, pairKey(account, address), at);
    if (!this.isKnown(account, address)) this.#count(this.#accounts, account, at);
  }

  /** Whether the account logged in successfully from this address before. */
  isKnown(account: string, address: string): boolean {
    return this.#known.get(account)?.includes(address) === true;
  }

  /** How long the next attempt of a counter must wait, in ms (0: now). */
  #wait(counter: Counter | undefined, free: number, now: number): number {
    if (!counter || now - counter.lastFailureAt > this.config.forgetMs || counter.failures < free) return 0;
    const delay = Math.min(this.config.maxDelayMs, this.config.baseDelayMs * 2 ** Math.min(30, counter.failures - free));
    return Math.max(0, counter.lastFailureAt + delay - now);
  }

  #count(map: Map<string, Counter>, key: string, at: number): void {
    const current = map.get(key);
    const fresh = !current || at - current.lastFailureAt > this.config.forgetMs;
    map.delete(key); // re-inserted last: the map's order is least recently failed first
    map.set(key, { failures: fresh ? 1 : current.failures + 1, lastFailureAt: Math.max(at, current?.lastFailureAt ?? 0) });
    if (map.size > this.config.maxEntries) map.delete(map.keys().next().value!);
  }

  #remember(account: string, address: string): void {
    const known = (this.#known.get(account) ?? []).filter((a) => a !== address);
    known.push(address);
    this.#known.delete(account);
    this.#known.set(account, known.slice(-this.config.knownAddressesPerAccount));
    if (this.#known.size > this.config.maxEntries) this.#known.delete(this.#known.keys().next().value!);
  }
}

const pairKey = (account: string, address: string): string => `${account}\n${address}`;
