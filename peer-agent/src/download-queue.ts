/**
 * At most `limit` downloads of an agent run at once; the others wait their
 * turn in the order they asked (show_downloads lists them as `[Q]`). A
 * download that is paused, cancelled or stopped while it waits leaves the
 * queue without ever running.
 */
export class DownloadQueue {
  readonly #limit: number;
  #running = 0;
  readonly #waiting: { start: () => void }[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`at least one download must be allowed to run, not ${limit}`);
    this.#limit = limit;
  }

  /** Whether a download asking now would wait. */
  get full(): boolean {
    return this.#running >= this.#limit;
  }

  /** Resolves with the function that gives the turn back, once this download may run; rejects with the signal's reason if it is aborted first. */
  take(signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    if (!this.full) return Promise.resolve(this.#started());
    return new Promise((resolve, reject) => {
      const waiter = {
        start: () => {
          signal.removeEventListener("abort", onAbort);
          resolve(this.#started());
        },
      };
      const onAbort = () => {
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #started(): () => void {
    this.#running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#running--;
      this.#waiting.shift()?.start();
    };
  }
}
