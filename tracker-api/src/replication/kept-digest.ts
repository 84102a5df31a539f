import { TRACKER } from "../config.js";

export type Heads = Record<string, number>;

export interface KeptDigestOptions {
  /** Reads the whole state: the digest and the heads it describes (null when events were applied meanwhile). */
  compute: () => Promise<{ digest: string; heads: Heads | null }>;
  /** The heads now, as a string: the digest describes the state while they are unchanged. */
  version: () => string;
  /** After a digest: whether another tracker that applied the same events holds another state. */
  diverges: (digest: string, heads: Heads) => Promise<boolean>;
  now?: () => number;
}

/**
 * The state digest /health shows, kept by the tracker instead of read for
 * each caller: /health needs no login, and a digest reads the whole state
 * (about a second with 40,000 groups, during which requests waited), so a
 * flood of health calls was a lever on every login and list.
 *
 * A call never waits for a digest. It gets the last one if it describes the
 * current state (no event applied since), and otherwise nothing, and in both
 * cases asks for a new one when the last is out of date or older than
 * TRACKER.HEALTH_DIGEST_MAX_AGE_MS (to see a database changed behind the
 * rules' back). New digests are computed in the background, one at a time,
 * at most one per TRACKER.HEALTH_DIGEST_MIN_GAP_MS and with a pause after each
 * of at least (1 / TRACKER.HEALTH_DIGEST_SHARE - 1) times what it took: however
 * many ask, digests take at most that share of the tracker's time, and none
 * is computed while nobody asks.
 */
export class KeptDigest {
  #last: { digest: string; version: string; at: number; diverged: boolean } | undefined;
  #lastRun: { startedAt: number; tookMs: number } | undefined;
  #scheduled: NodeJS.Timeout | undefined;
  #running = false;
  #stopped = false;
  readonly #now: () => number;

  constructor(private readonly options: KeptDigestOptions) {
    this.#now = options.now ?? Date.now;
  }

  /** The digest of the current state if one is kept, and whether it differs from another tracker's at the same heads. Never waits. */
  read(): { digest?: string; diverged: boolean } {
    const last = this.#last;
    const current = last !== undefined && last.version === this.options.version();
    if (!current || this.#now() - last.at >= TRACKER.HEALTH_DIGEST_MAX_AGE_MS) this.#ask();
    return current ? { digest: last.digest, diverged: last.diverged } : { diverged: false };
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#scheduled);
  }

  #ask(): void {
    if (this.#running || this.#scheduled || this.#stopped) return;
    const run = this.#lastRun;
    const gap = run ? Math.max(TRACKER.HEALTH_DIGEST_MIN_GAP_MS, run.tookMs / TRACKER.HEALTH_DIGEST_SHARE) : 0;
    const wait = run ? Math.max(0, run.startedAt + gap - this.#now()) : 0;
    this.#scheduled = setTimeout(() => {
      this.#scheduled = undefined;
      void this.#run();
    }, wait);
    this.#scheduled.unref();
  }

  async #run(): Promise<void> {
    this.#running = true;
    const startedAt = this.#now();
    try {
      const { digest, heads } = await this.options.compute();
      // Only the reading counts towards the pause: waiting for a slow peer below costs this tracker nothing.
      this.#lastRun = { startedAt, tookMs: this.#now() - startedAt };
      // Events applied while the state was read: that digest describes no state; the next call asks again.
      if (heads !== null) {
        const diverged = await this.options.diverges(digest, heads);
        this.#last = { digest, version: JSON.stringify(heads), at: this.#now(), diverged };
      }
    } catch {
      // A failed read (the database closing) keeps the last digest; the next call asks again.
      this.#lastRun ??= { startedAt, tookMs: this.#now() - startedAt };
    } finally {
      this.#running = false;
    }
  }
}
