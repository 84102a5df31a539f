/**
 * The outbox: services record the events of a state change in the same
 * transaction as the change (writeTransaction), and the events are applied to
 * the registers there too, so a local write and a replicated one leave the
 * same rows. After the commit the replicator (if any) pushes them to the
 * other trackers before the caller answers its client.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { TrackerDb } from "../db/open.js";
import { replacedIncarnation } from "./apply-rules.js";
import type { LoggedEvent, NewEvent } from "./events.js";
import { HybridClock } from "./hlc.js";
import { insertEvents, insertEventsSql, nothingTouched, RegisterBatch, writeAnswersSql, type Tx } from "./store.js";

/** What the outbox needs from the replicator: who we are, and a push after each commit. */
export interface ReplicationHooks {
  origin: string;
  clock: HybridClock;
  /** Told right after each commit, in log order, which events were appended. */
  appended?(events: readonly LoggedEvent[]): void;
  /** Called after a write committed with its events; resolves when the peers took them, or after a short timeout. */
  committed(events: readonly LoggedEvent[]): Promise<void>;
}

const hooksByDb = new WeakMap<TrackerDb, ReplicationHooks>();

/** Attaches a tracker's replicator to its database client. */
export function attachReplication(db: TrackerDb, hooks: ReplicationHooks): void {
  hooksByDb.set(db, hooks);
}

/** A tracker without peers (and tests of one tracker) still keeps its log. */
function hooksOf(db: TrackerDb): ReplicationHooks {
  let hooks = hooksByDb.get(db);
  if (!hooks) {
    hooks = { origin: "local", clock: new HybridClock("local"), committed: async () => {} };
    hooksByDb.set(db, hooks);
  }
  return hooks;
}

/**
 * Per tracker: the last sequence number of its own events (read from the log
 * once, then kept here), and a lock that lets one recording transaction run
 * at a time, so numbers are handed out gap-free and only a committed
 * transaction moves the counter on.
 */
interface Sequence {
  last: number | undefined;
  tail: Promise<void>;
}
const sequences = new WeakMap<TrackerDb, Sequence>();

function sequenceOf(db: TrackerDb): Sequence {
  let sequence = sequences.get(db);
  if (!sequence) sequences.set(db, (sequence = { last: undefined, tail: Promise.resolve() }));
  return sequence;
}

async function lock(sequence: Sequence): Promise<() => void> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => { release = resolve; });
  const previous = sequence.tail;
  sequence.tail = previous.then(() => released);
  await previous;
  return release;
}

/**
 * Runs `work` holding the lock of recording transactions, so that it never
 * interleaves with a local write: used to apply batches from other trackers
 * (their register reads and writes must not race a local write's on a
 * database with several connections; SQLite's single connection serializes them anyway).
 */
export async function withWriteLock<T>(db: TrackerDb, work: () => Promise<T>): Promise<T> {
  const release = await lock(sequenceOf(db));
  try {
    return await work();
  } finally {
    release();
  }
}

/** What recording told: whether rows the service wrote were rebuilt from the registers (rare: a share that revives other holders). */
export interface RecordOutcome {
  rowsRebuilt: boolean;
}

export type RecordEvents = (...events: NewEvent[]) => Promise<RecordOutcome>;

/**
 * Runs a state change in a transaction with `record` for its events, then
 * delivers the events to the other trackers before returning.
 */
export async function writeTransaction<T>(db: TrackerDb, work: (tx: Tx, record: RecordEvents) => Promise<T>): Promise<T> {
  const hooks = hooksOf(db);
  const sequence = sequenceOf(db);
  const release = await lock(sequence);
  const logged: LoggedEvent[] = [];
  let result: T;
  try {
    let last = sequence.last;
    result = await db.$transaction(async (tx) => {
      last ??= await lastSeq(tx, hooks.origin);
      return work(tx, async (...events) => {
        if (events.length === 0) return { rowsRebuilt: false };
        const recorded = await recordEvents(tx, hooks, events, last!);
        last = recorded.events.at(-1)!.seq;
        logged.push(...recorded.events);
        return { rowsRebuilt: recorded.rowsRebuilt };
      });
    });
    sequence.last = last;
    if (logged.length > 0) hooks.appended?.(logged);
  } finally {
    release();
  }
  if (logged.length > 0) {
    const held = heldDeliveries.getStore();
    if (held && !held.released) held.events.push(...logged);
    else await hooks.committed(logged);
  }
  return result;
}

/** Events committed while an answer is being prepared, delivered with it. */
interface HeldDeliveries {
  db: TrackerDb;
  events: LoggedEvent[];
  released: boolean;
}
const heldDeliveries = new AsyncLocalStorage<HeldDeliveries>();

/**
 * Runs `work` (the handling of one request) holding back the delivery of the
 * events it commits, until `deliver` is called with the answer recorded (or
 * not). The change and its answer then reach the other trackers in the same
 * push; a tracker that dies before answering has delivered neither.
 */
export function holdDeliveries(db: TrackerDb, work: () => void): { changed: () => boolean; deliver: (answer?: AnswerEvent) => Promise<void> } {
  const held: HeldDeliveries = { db, events: [], released: false };
  heldDeliveries.run(held, work);
  return {
    changed: () => held.events.length > 0,
    deliver: async (answer) => {
      if (held.released) return;
      held.released = true;
      let delivered = false;
      try {
        if (answer !== undefined && held.events.length > 0) {
          // Its push delivers everything not acknowledged yet: the held events, and the answer after them.
          await recordAnswer(db, answer);
          delivered = true;
        }
      } finally {
        if (!delivered && held.events.length > 0) await hooksOf(db).committed(held.events);
      }
    },
  };
}

export type AnswerEvent = Extract<LoggedEvent, { type: "idempotency.answered" }> extends infer E
  ? E extends LoggedEvent ? Pick<E, "type" | "payload"> : never
  : never;

/**
 * Logs an idempotency answer and keeps it, in one transaction of two
 * statements (a batch: it reads nothing, so it needs no interactive
 * transaction), then delivers it.
 */
async function recordAnswer(db: TrackerDb, answer: AnswerEvent): Promise<void> {
  const hooks = hooksOf(db);
  const sequence = sequenceOf(db);
  const release = await lock(sequence);
  let logged: LoggedEvent;
  try {
    const last = sequence.last ?? (await lastSeq(db, hooks.origin));
    logged = { ...answer, origin: hooks.origin, seq: last + 1, hlc: hooks.clock.tick() };
    await db.$transaction([db.$executeRaw(insertEventsSql([logged])), db.$executeRaw(writeAnswersSql([answer.payload]))]);
    sequence.last = logged.seq;
    hooks.appended?.([logged]);
  } finally {
    release();
  }
  await hooks.committed([logged]);
}

async function lastSeq(tx: Tx | TrackerDb, origin: string): Promise<number> {
  const [row] = await tx.$queryRaw<{ seq: number | bigint | null }[]>`SELECT MAX("seq") AS "seq" FROM "Event" WHERE "origin" = ${origin}`;
  return Number(row?.seq ?? 0);
}

/**
 * Logs a service's events (filling in the incarnations they act under) and
 * merges them into the registers. The service has written the rows itself.
 */
async function recordEvents(tx: Tx, hooks: ReplicationHooks, events: NewEvent[], last: number): Promise<{ events: LoggedEvent[]; rowsRebuilt: boolean }> {
  const batch = new RegisterBatch();
  await batch.readKeys(tx, events);
  const logged: LoggedEvent[] = [];
  for (const event of events) {
    const payload: Record<string, unknown> = { ...event.payload };
    if (event.type === "group.created") {
      const previous = batch.group(event.payload.groupId);
      payload.after = replacedIncarnation(previous);
    } else if ("groupId" in payload && payload.groupHlc === undefined) {
      const groupId = String(payload.groupId);
      const createdHere = logged.findLast((e) => e.type === "group.created" && e.payload.groupId === groupId);
      payload.groupHlc = createdHere?.hlc ?? batch.group(groupId)?.hlc ?? "";
    }
    if (event.type === "session.created" && payload.userHlc === undefined) {
      payload.userHlc = batch.user(event.payload.userId)?.hlc ?? "";
    }
    logged.push({ type: event.type, payload, origin: hooks.origin, seq: last + logged.length + 1, hlc: hooks.clock.tick() } as LoggedEvent);
  }
  for (const event of logged) if (event.type === "group.created") batch.created(event.payload.groupId, event.hlc);
  await batch.read(tx, logged);
  for (const event of logged) batch.apply(event, "local");
  await insertEvents(tx, logged);
  const rowsRebuilt = await batch.write(tx, "local", nothingTouched());
  return { events: logged, rowsRebuilt };
}
