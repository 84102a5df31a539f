/**
 * The other API processes of this tracker (several on one PostgreSQL
 * database: --workers, or processes started by hand with the same
 * --database-url). They share the database, so rows, the log, idempotency
 * answers and sequence numbers need nothing from here; what each process
 * keeps in memory does: which cached group lists and sessions a commit made
 * stale, and the login attempts its throttle counts. Those travel as
 * PostgreSQL notifications (pg_notify, LISTEN), which reach every process
 * within milliseconds of the commit; a process that was not listening (not
 * started yet) has no cache to drop.
 */
import { randomUUID } from "node:crypto";
import type { LoginAttempt } from "../domain/login-throttle.js";
import type { PostgresDatabase } from "../db/postgres.js";
import { TRACKER } from "../config.js";
import type { Touched } from "./register-batch.js";

export type SiblingMessage =
  | { kind: "touched"; groups: string[]; endedSessions: string[]; usersSignedOut: string[]; renamed: boolean }
  /** Too much changed to name it in one notification: drop every cached list and session. */
  | { kind: "touched-all" }
  | { kind: "logins"; attempts: LoginAttempt[] };

export interface Siblings {
  /** Tells the other processes (never this one); fire and forget. */
  publish(message: SiblingMessage): void;
  /** Calls `handler` with every message another process publishes. */
  subscribe(handler: (message: SiblingMessage) => void): void;
}

const CHANNEL = "p2p_tracker_siblings";

/** Siblings over PostgreSQL notifications on one channel; each process tells its own messages apart by an id. */
export async function postgresSiblings(database: PostgresDatabase): Promise<Siblings> {
  const self = randomUUID();
  const handlers: ((message: SiblingMessage) => void)[] = [];
  await database.listen(CHANNEL, (payload) => {
    const { from, message } = JSON.parse(payload) as { from: string; message: SiblingMessage };
    if (from !== self) for (const handler of handlers) handler(message);
  });
  const publish = (message: SiblingMessage): void => {
      let payload = JSON.stringify({ from: self, message });
      // PostgreSQL refuses a payload past 8000 bytes.
      if (Buffer.byteLength(payload) > TRACKER.SIBLING_MESSAGE_BYTES) {
        if (message.kind !== "logins") payload = JSON.stringify({ from: self, message: { kind: "touched-all" } });
        else {
          const half = Math.ceil(message.attempts.length / 2);
          publish({ kind: "logins", attempts: message.attempts.slice(0, half) });
          publish({ kind: "logins", attempts: message.attempts.slice(half) });
          return;
        }
      }
      void database.db.$queryRaw`SELECT pg_notify(${CHANNEL}, ${payload})::text AS "sent"`.catch(() => undefined);
  };
  return {
    publish,
    subscribe(handler) {
      handlers.push(handler);
    },
  };
}

/** The message telling the siblings what a commit touched (undefined when it touched nothing cached). */
export function touchedMessage(touched: Touched): SiblingMessage | undefined {
  if (touched.groups.size === 0 && touched.endedSessions.size === 0 && touched.usersSignedOut.size === 0 && !touched.renamed) return undefined;
  return {
    kind: "touched", groups: [...touched.groups], endedSessions: [...touched.endedSessions], usersSignedOut: [...touched.usersSignedOut], renamed: touched.renamed,
  };
}
