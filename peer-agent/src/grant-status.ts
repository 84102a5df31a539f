import type { GrantInUse } from "../../core/api-types.js";
import { AGENT } from "./config.js";

/** The tracker's answer for grants in use, in order (TrackerClient.grantStatus). */
export type AskTracker = (grants: GrantInUse[]) => Promise<boolean[]>;

export interface GrantStatusOptions {
  recheckMs?: number;
  maxAgeMs?: number;
  forgetMs?: number;
  now?: () => number;
}

interface Verdict {
  grant: GrantInUse;
  valid: boolean;
  checkedAt: number;
  usedAt: number;
}

/**
 * Whether the grants this agent serves still stand, as the tracker says:
 * a signature proves a grant was given, not that its user is still a member
 * or still logged in. Verdicts are kept per (user, group, session); those in
 * use are asked again together every few seconds in the background, so a
 * range waits for the tracker only the first time a grant is seen (or after
 * the agent went quiet). When no tracker answers, the last verdict stands and
 * a grant never seen is served on its signature: files keep flowing while
 * trackers are down, and a revocation that reaches no tracker the agent can
 * reach cannot be known anyway (the grant's expiry bounds it).
 */
export class GrantStatus {
  readonly #ask: AskTracker;
  readonly #recheckMs: number;
  readonly #maxAgeMs: number;
  readonly #forgetMs: number;
  readonly #now: () => number;
  readonly #verdicts = new Map<string, Verdict>();
  #waiting = new Map<string, GrantInUse>();
  #question: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(ask: AskTracker, options: GrantStatusOptions = {}) {
    this.#ask = ask;
    this.#recheckMs = options.recheckMs ?? AGENT.GRANT_RECHECK_MS;
    this.#maxAgeMs = options.maxAgeMs ?? AGENT.GRANT_VERDICT_MAX_AGE_MS;
    this.#forgetMs = options.forgetMs ?? AGENT.GRANT_FORGET_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Whether the grant stands; asks the tracker first when the verdict is
   * missing or too old. `issuedAtMs`, the grant's signing time: the tracker
   * checked the session and the membership when it signed, so a grant signed
   * less than a verdict's age ago is served on that while the tracker is
   * asked in the background. That keeps a downloader's first range from
   * waiting for a tracker round trip at every peer (issue 12, fixed cost per
   * download), and a revocation still stops ranges as soon as the answer is
   * back. A signing time ahead of this agent's clock is not trusted.
   */
  async stands(grant: GrantInUse, issuedAtMs?: number): Promise<boolean> {
    const key = keyOf(grant);
    const known = this.#verdicts.get(key);
    const now = this.#now();
    if (known) known.usedAt = now;
    if (known && now - known.checkedAt <= this.#maxAgeMs) return known.valid;
    this.#waiting.set(key, grant);
    const answered = this.#askSoon();
    const fresh = issuedAtMs !== undefined && issuedAtMs <= now && now - issuedAtMs <= this.#maxAgeMs;
    if (fresh && (known?.valid ?? true)) return true;
    await answered;
    const verdict = this.#verdicts.get(key);
    if (verdict) verdict.usedAt = now;
    return verdict?.valid ?? true;
  }

  /** Stops the background rechecks (the agent logs out or stops); verdicts are forgotten. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#verdicts.clear();
  }

  /** One question for everything waiting now (ranges arriving together share it). */
  #askSoon(): Promise<void> {
    this.#question ??= new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      const batch = this.#waiting;
      this.#waiting = new Map();
      this.#question = undefined;
      await this.#askAbout([...batch.values()]);
    });
    return this.#question;
  }

  async #askAbout(grants: GrantInUse[]): Promise<void> {
    for (let i = 0; i < grants.length; i += AGENT.GRANT_STATUS_PER_QUESTION) {
      const part = grants.slice(i, i + AGENT.GRANT_STATUS_PER_QUESTION);
      const askedAt = this.#now();
      const answer = await this.#ask(part).catch(() => undefined);
      part.forEach((grant, j) => {
        const key = keyOf(grant);
        const known = this.#verdicts.get(key);
        // No answer: the last verdict stands (a grant never seen is served on its signature) until the next round
        // asks again; ranges do not each wait for trackers that are down.
        const valid = answer?.[j] ?? known?.valid ?? true;
        this.#verdicts.set(key, { grant, valid, checkedAt: askedAt, usedAt: known?.usedAt ?? askedAt });
      });
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer || this.#verdicts.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const now = this.#now();
      for (const [key, verdict] of this.#verdicts) if (now - verdict.usedAt > this.#forgetMs) this.#verdicts.delete(key);
      void this.#askAbout([...this.#verdicts.values()].map((v) => v.grant));
    }, this.#recheckMs);
    this.#timer.unref();
  }
}

const keyOf = (grant: GrantInUse): string => `${grant.userId}\n${grant.groupId}\n${grant.sessionId}`;
