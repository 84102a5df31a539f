import { Codes, ValidationError } from "../../../core/errors.js";
import { TRACKER } from "../config.js";
import type { LoginAttempt, LoginThrottle } from "../domain/login-throttle.js";
import type { Replicator } from "./replicator.js";
import type { Siblings } from "./siblings.js";

/**
 * One tracker's login throttle, shared with the others: every attempt
 * recorded here is sent, in batches every 100 ms, to the other trackers over
 * the signed replication link (POST /replication/logins), which record it as
 * their own. Not in the event log: throttling state is worth nothing after an
 * hour and must not grow the replicated history (an attacker's every guess
 * would be kept forever). A batch lost to a link that is down is dropped; the
 * counters then only diverge by what a partition let through. What a tracker
 * keeps is bounded by the throttle's own limits, and a batch is at most 1000
 * attempts, so a peer cannot make it keep more. The other API processes of
 * this tracker (on PostgreSQL) get the same batches through `siblings`.
 */
export class SharedLoginThrottle {
  #pending: LoginAttempt[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly throttle: LoginThrottle,
    private readonly replicator?: Replicator,
    /** The other API processes of this tracker: told every attempt too, so that N processes do not allow N times the guesses. */
    private readonly siblings?: Siblings,
  ) {
    siblings?.subscribe((message) => {
      if (message.kind === "logins") for (const attempt of message.attempts) this.throttle.record(attempt);
    });
  }

  check(account: string, address: string): void {
    this.throttle.check(account, address);
  }

  /** An attempt made on this tracker: recorded and sent on. */
  record(attempt: LoginAttempt): void {
    this.throttle.record(attempt);
    if (!this.siblings && (!this.replicator || this.replicator.links.length === 0)) return;
    if (this.#pending.length < TRACKER.LOGIN_ATTEMPTS_PER_BATCH) this.#pending.push(attempt);
    this.#timer ??= setTimeout(() => this.#flush(), TRACKER.LOGIN_ATTEMPTS_FLUSH_MS);
    this.#timer.unref();
  }

  /** Attempts made on another tracker (already checked to be a signed delivery). */
  receive(body: unknown): void {
    for (const attempt of parseAttempts(body)) this.throttle.record(attempt);
  }

  #flush(): void {
    this.#timer = undefined;
    const attempts = this.#pending;
    this.#pending = [];
    this.siblings?.publish({ kind: "logins", attempts });
    for (const link of this.replicator?.links ?? []) {
      void this.replicator?.call(link.peer, "POST", "/replication/logins", { attempts }).catch(() => undefined);
    }
  }
}

function parseAttempts(body: unknown): LoginAttempt[] {
  const attempts = (body as { attempts?: unknown } | undefined)?.attempts;
  if (!Array.isArray(attempts) || attempts.length > TRACKER.LOGIN_ATTEMPTS_PER_BATCH) {
    throw new ValidationError(`body must be { attempts: [...] } with at most ${TRACKER.LOGIN_ATTEMPTS_PER_BATCH}`, Codes.BAD_REPLICATION_BATCH);
  }
  return attempts.filter((a): a is LoginAttempt => {
    const x = a as Partial<LoginAttempt>;
    return typeof x.account === "string" && x.account.length <= 256 && typeof x.address === "string" && x.address.length <= 64 &&
      typeof x.accountExists === "boolean" && typeof x.ok === "boolean" && typeof x.at === "number" && Number.isFinite(x.at);
  });
}
