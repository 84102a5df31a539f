import type { TrackerDb } from "../db/open.js";

/**
 * State a service keeps in memory for one tracker (caches), living as long as
 * that tracker's database client. Keyed by the client, so several trackers in
 * one process (tests) never share it. Only valid while every change goes
 * through the services, which is the rule for a tracker's database.
 */
export function perTracker<T>(create: () => T): (db: TrackerDb) => T {
  const states = new WeakMap<TrackerDb, T>();
  return (db) => {
    let state = states.get(db);
    if (state === undefined) {
      state = create();
      states.set(db, state);
    }
    return state;
  };
}
