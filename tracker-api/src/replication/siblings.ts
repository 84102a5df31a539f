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
import type { LoggedEvent } from "./events.js";
import type { Touched } from "./register-batch.js";

type TouchedMessage = { kind: "touched"; groups: string[]; endedSessions: string[]; usersSignedOut: string[]; renamed: boolean };

export type SiblingMessage =
  | TouchedMessage
  /** Too much changed to name it in one notification: drop every cached list and session. */
  | { kind: "touched-all" }
  | { kind: "logins"; attempts: LoginAttempt[] }
  /**
   * A local write committed (sent by its own last statement, so PostgreSQL delivers it at its commit):
   * what it touched, and its events, numbered 1..n within the write, after the log's `after`
   * (left out when they would not fit in one notification: the push then reads them from the log).
   */
  | { kind: "committed"; touched: TouchedMessage | { kind: "touched-all" } | null; events: LoggedEvent[]; after: number };

/**
 * The notification a commit sends from its own statement (Outbox on a shared
 * log): the payload is `head`, then the number the log stood at before the
 * write (known only inside that statement, which appends it), then `tail`.
 */
export interface CommitNotice {
  channel: string;
  head: string;
  tail: string;
}

export interface Siblings {
  /** Tells the other processes (never this one); fire and forget. */
  publish(message: SiblingMessage): void;
  /** Calls `handler` with every message another process publishes. */
  subscribe(handler: (message: SiblingMessage) => void): void;
  /**
   * The notification of a local commit, for the commit's own last statement
   * to send: one round trip less per write than a publish after it, and the
   * siblings get the write's events, so their pushes to the other trackers
   * need not read them back from the log (bench:tracker, docs/postgresql.md).
   */
  commitNotice(touched: Touched, events: readonly LoggedEvent[]): CommitNotice;
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
    commitNotice: (touched, events) => commitNotice(self, touched, events),
  };
}

/**
 * The notification of a local commit from process `from`: what it touched and
 * its events, numbered within the write. Left out when they would not fit in
 * one notification: the events (the pushes read them from the log), then what
 * was touched (the siblings then drop every cached list and session).
 */
export function commitNotice(from: string, touched: Touched, events: readonly LoggedEvent[]): CommitNotice {
  // Room for the log's position, which the statement adds.
  const room = TRACKER.SIBLING_MESSAGE_BYTES - 20;
  const notice = (message: Omit<Extract<SiblingMessage, { kind: "committed" }>, "after">): CommitNotice => {
    const head = JSON.stringify({ from, message });
    // {"from":…,"message":{…}} → {"from":…,"message":{…,"after":<n>}}
    return { channel: CHANNEL, head: `${head.slice(0, -2)},"after":`, tail: "}}" };
  };
  const fits = (n: CommitNotice) => Buffer.byteLength(n.head) + Buffer.byteLength(n.tail) <= room;
  const changed = touchedMessage(touched) ?? null;
  for (const message of [{ touched: changed, events: [...events] }, { touched: changed, events: [] }]) {
    const n = notice({ kind: "committed", ...message });
    if (fits(n)) return n;
  }
  return notice({ kind: "committed", touched: { kind: "touched-all" }, events: [] });
}

/** The message telling the siblings what a commit touched (undefined when it touched nothing cached). */
export function touchedMessage(touched: Touched): TouchedMessage | undefined {
  if (touched.groups.size === 0 && touched.endedSessions.size === 0 && touched.usersSignedOut.size === 0 && !touched.renamed) return undefined;
  return {
    kind: "touched", groups: [...touched.groups], endedSessions: [...touched.endedSessions], usersSignedOut: [...touched.usersSignedOut], renamed: touched.renamed,
  };
}
