export interface RecentAnswerOptions {
  /** An answer is reused for this long while `version` is unchanged. */
  maxAgeMs: number;
  /** What the answer depends on (e.g. which events were applied); absent: only age counts. */
  version?: () => string;
  /** Even when `version` changed, an answer this young is reused: the bound on how often it runs under a flood. */
  minAgeMs?: number;
  now?: () => number;
}

/**
 * Wraps an expensive async question so that callers share its answer: a
 * call while one is running gets that one's answer, and a call soon after the
 * last answer gets it again (see the options). However many ask, it runs at
 * most once per `minAgeMs`, and once per `maxAgeMs` while nothing it depends
 * on changed. A failure is not kept.
 */
export function recentAnswer<R>(ask: () => Promise<R>, options: RecentAnswerOptions): () => Promise<R> {
  const now = options.now ?? Date.now;
  const minAgeMs = options.minAgeMs ?? options.maxAgeMs;
  let pending: Promise<R> | undefined;
  let last: { value: R; at: number; version: string } | undefined;
  return () => {
    if (last) {
      const age = now() - last.at;
      const unchanged = !options.version || options.version() === last.version;
      if (age < minAgeMs || (unchanged && age < options.maxAgeMs)) return Promise.resolve(last.value);
    }
    if (!pending) {
      const version = options.version?.() ?? "";
      pending = ask()
        .then((value) => {
          last = { value, at: now(), version };
          return value;
        })
        .finally(() => {
          pending = undefined;
        });
    }
    return pending;
  };
}
