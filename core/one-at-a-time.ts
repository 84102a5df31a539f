/**
 * Wraps an async function so that its calls run one after another, in the
 * order they were made: a call starts once the previous one has settled, and
 * a failed call does not stop the next.
 */
export function oneAtATime<A extends unknown[], R>(run: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  let previous: Promise<unknown> = Promise.resolve();
  return (...args) => {
    const call = previous.then(() => run(...args));
    previous = call.catch(() => undefined);
    return call;
  };
}
