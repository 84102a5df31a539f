/**
 * The outbox: services check their rules and record the events of a state
 * change (Outbox.write); in the same transaction the events are logged and
 * projected into registers and rows by RegisterBatch, the same code that
 * applies events from other trackers, so a local write and a replicated one
 * leave the same rows. After the commit the replicator (if any) pushes them
 * to the other trackers before the caller answers its client.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { TrackerDb, Tx } from "../db/open.js";
import { replacedIncarnation } from "./apply-rules.js";
import type { LoggedEvent, NewEvent } from "./events.js";
import { HybridClock } from "./hlc.js";
import { appendToSharedLog, insertEvents, insertEventsSql, lockForApply, lockForWrite, lockLog, logPosition, writeAnswers, writeAnswersSql } from "./event-log.js";
import { locksOf, lockOrder, type WriteLock } from "./write-locks.js";
import { nothingTouched, RegisterBatch, type Touched } from "./register-batch.js";
import type { CommitNotice } from "./siblings.js";
import { TRACKER } from "../config.js";

/** What the outbox needs from the replicator: who we are, and a push after each commit. */
export interface ReplicationHooks {
  origin: string;
  clock: HybridClock;
  /** Told right after each commit which events were appended: in log order on SQLite; on a shared log, writes of one process that commit at once may be told the other way round. */
  appended?(events: readonly LoggedEvent[]): void;
  /** Throws when the tracker may not take writes now (a new database recovering from the others). */
  checkWritable?(): void;
  /** Called after a write committed with its events; resolves when the peers took them, or after a short timeout. */
  committed(events: readonly LoggedEvent[]): Promise<void>;
}

/** A tracker without peers (and tests of one tracker) still keeps its log. */
function localHooks(): ReplicationHooks {
  return { origin: "local", clock: new HybridClock("local"), committed: async () => {} };
}

/**
 * One tracker's outbox: the last sequence number of its own events, and a lock
 * that lets one recording transaction run at a time, so numbers are handed out
 * gap-free and only a committed transaction moves the counter on. Owned by the
 * tracker object.
 *
 * On SQLite the tracker is the only process on its database: the number is
 * read from the log once and kept here, and the lock is this process's. On a
 * shared log (PostgreSQL, where several API processes serve one tracker)
 * writes run side by side, in this process and in the others: a write's
 * projection first takes the locks of the state its events touch
 * (write-locks.ts), and only its last statements hold the database's lock of
 * the log (a transaction-level advisory lock, event-log.ts): they read the
 * last number from the log itself, number the events and insert them, so
 * whichever write commits next continues where the last one, in any process,
 * stopped (docs/postgresql.md says why this keeps the log's rules).
 */
export class Outbox {
  #hooks: ReplicationHooks;
  #last: number | undefined;
  #tail: Promise<void> = Promise.resolve();
  readonly #held = new AsyncLocalStorage<HeldRequest>();

  constructor(
    readonly db: TrackerDb,
    /** Told, after each commit, what the write's events changed (for the caches). */
    private readonly onApplied: (touched: Touched) => void = () => {},
    hooks: ReplicationHooks = localHooks(),
    /** Other processes append to the same log (PostgreSQL): numbers and clock are read from it under its lock. */
    readonly sharedLog = false,
    /** On a shared log: the notification that tells the other processes of a commit, sent by the commit's last statement (siblings.ts). */
    private readonly commitNotice?: (touched: Touched, events: readonly LoggedEvent[]) => CommitNotice,
  ) {
    this.#hooks = hooks;
  }

  get hooks(): ReplicationHooks {
    return this.#hooks;
  }

  /** Events are pushed to the other trackers through `hooks` (the replicator) from now on. */
  replicateThrough(hooks: ReplicationHooks): void {
    this.#hooks = hooks;
  }

  async #lock(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    const previous = this.#tail;
    this.#tail = previous.then(() => released);
    await previous;
    return release;
  }

  /**
   * Runs `work` in a transaction holding the lock of recording transactions
   * (this process's; on a shared log the apply lock, exclusive, then the
   * log's), so that it never interleaves with a local write: used to apply batches from other trackers
   * (their register reads and writes must not race a local write's on a
   * database with several connections; SQLite's single connection serializes them anyway).
   */
  async logTransaction<T>(work: (tx: Tx) => Promise<T>, options?: { timeout: number; maxWait: number }): Promise<T> {
    const release = this.sharedLog ? () => {} : await this.#lock();
    try {
      return await this.db.$transaction(async (tx) => {
        if (this.sharedLog) await lockForApply(tx);
        return work(tx);
      }, options);
    } finally {
      release();
    }
  }

  /**
   * Runs a state change in a transaction with `record` for its events, then
   * delivers the events to the other trackers before returning.
   *
   * In a request that keeps its answer (holdDeliveries), the first write that
   * records events hands its result back before it commits, and its transaction
   * waits for the answer: the change, its events, the `idempotency.answered`
   * event and the stored answer then commit together (one transaction, one
   * insert of events), and are delivered together.
   */
  async write<T>(work: (tx: Tx, record: RecordEvents) => Promise<T>, options: WriteOptions = {}): Promise<T> {
    this.#hooks.checkWritable?.();
    const held = this.#held.getStore();
    if (held?.open()) return held.commitWithAnswer(work, options);
    // A second write of the same request must not queue behind the first one's open transaction.
    held?.answerLater();
    const { result, logged } = await this.commit(work, undefined, options);
    if (logged.length > 0) {
      if (held && !held.released) held.events.push(...logged);
      else await this.#hooks.committed(logged);
    }
    return result;
  }

  /**
   * Runs `work` (the handling of one request) holding back the delivery of the
   * events it commits, until `deliver` is called with the answer recorded (or
   * not). The change and its answer then reach the other trackers in the same
   * push; a tracker that dies before answering has delivered neither.
   * `changed` tells whether the request wrote (so its answer is recorded with
   * `deliver`); `deliver` throws WriteNotCommittedError when the write failed to
   * commit after its result was handed out.
   */
  holdDeliveries(work: () => void): { changed: () => boolean; deliver: (answer?: AnswerEvent) => Promise<void> } {
    const held = new HeldRequest(this);
    this.#held.run(held, work);
    return { changed: () => held.changed(), deliver: (answer) => held.deliver(answer) };
  }

  /** Tells the other trackers of committed events. */
  delivered(events: readonly LoggedEvent[]): Promise<void> {
    return this.#hooks.committed(events);
  }

  /**
   * The transaction of a write, holding the lock of recording transactions:
   * `work` with `record`, then, if it recorded events, the answer `answer` gives
   * (logged after them and stored), then the events are logged in one insert.
   */
  async commit<T>(
    work: (tx: Tx, record: RecordEvents) => Promise<T>,
    answer?: (result: T) => Promise<AnswerEvent | undefined>,
    options: WriteOptions = {},
  ): Promise<{ result: T; logged: LoggedEvent[]; answered: boolean }> {
    if (this.sharedLog) return this.#commitShared(work, answer, options);
    const hooks = this.#hooks;
    const release = await this.#lock();
    const logged: LoggedEvent[] = [];
    const touched = nothingTouched();
    let answered = false;
    try {
      let last = this.#last;
      const result = await this.db.$transaction(async (tx) => {
        last ??= await lastSeq(tx, hooks.origin);
        const result = await work(tx, async (...events) => {
          if (events.length === 0) return;
          const recorded = await recordEvents(tx, hooks, events, last!, touched, false);
          last = recorded.at(-1)!.seq;
          logged.push(...recorded);
        });
        const given = logged.length > 0 ? await answer?.(result) : undefined;
        if (given) {
          last = last! + 1;
          logged.push({ ...given, origin: hooks.origin, seq: last, hlc: hooks.clock.tick() } as LoggedEvent);
          answered = true;
        }
        await insertEvents(tx, logged);
        if (given) await writeAnswers(tx, [given.payload]);
        return result;
      });
      this.#last = last;
      if (logged.length > 0) {
        hooks.appended?.(logged);
        this.onApplied(touched);
      }
      return { result, logged, answered };
    } finally {
      release();
    }
  }

  /**
   * `commit` on a shared log, where writes run side by side: the service's
   * reads and checks take no lock (but those of `options.lock`, taken first);
   * each `record` takes the locks of the state its events touch and moves the
   * clock past every HLC committed, then projects them; the answer is waited
   * for; only then the log's lock is taken, held by one statement and the
   * commit: the events are numbered after the last one committed, by any
   * process, and inserted with the answer.
   */
  async #commitShared<T>(
    work: (tx: Tx, record: RecordEvents) => Promise<T>,
    answer: ((result: T) => Promise<AnswerEvent | undefined>) | undefined,
    options: WriteOptions,
  ): Promise<{ result: T; logged: LoggedEvent[]; answered: boolean }> {
    const hooks = this.#hooks;
    const logged: LoggedEvent[] = [];
    const touched = nothingTouched();
    let answered = false;
    const result = await this.db.$transaction(async (tx) => {
      if (options.lock && options.lock.length > 0) await lockForWrite(tx, lockOrder(options.lock));
      const result = await work(tx, async (...events) => {
        if (events.length === 0) return;
        await lockForWrite(tx, lockOrder(locksOf(events)));
        logged.push(...(await recordEvents(tx, hooks, events, 0, touched, true)));
      });
      if (logged.length === 0) return result;
      const given = await answer?.(result);
      if (given) {
        logged.push({ ...given, origin: hooks.origin, seq: 0, hlc: hooks.clock.tick() } as LoggedEvent);
        answered = true;
      }
      // Numbered within the write, then after the log's last number, read under its lock.
      logged.forEach((event, i) => { event.seq = i + 1; });
      await lockLog(tx);
      const last = await appendToSharedLog(tx, hooks.origin, logged, given ? [given.payload] : [], this.commitNotice?.(touched, logged));
      for (const event of logged) event.seq += last;
      return result;
    });
    if (logged.length > 0) {
      hooks.appended?.(logged);
      this.onApplied(touched);
    }
    return { result, logged, answered };
  }

  /**
   * Logs an idempotency answer and keeps it, in one transaction of two
   * statements (a batch: it reads nothing, so it needs no interactive
   * transaction), then delivers it. For an answer that could not commit with its write.
   */
  async recordAnswer(answer: AnswerEvent): Promise<void> {
    const hooks = this.#hooks;
    // On a shared log the log's lock orders it (#continueLog).
    const release = this.sharedLog ? () => {} : await this.#lock();
    let logged: LoggedEvent;
    try {
      if (this.sharedLog) {
        logged = await this.db.$transaction(async (tx) => {
          const last = await this.#continueLog(tx, hooks);
          const event: LoggedEvent = { ...answer, origin: hooks.origin, seq: last + 1, hlc: hooks.clock.tick() };
          await insertEvents(tx, [event]);
          await writeAnswers(tx, [answer.payload]);
          return event;
        });
      } else {
        const last = this.#last ?? (await lastSeq(this.db, hooks.origin));
        logged = { ...answer, origin: hooks.origin, seq: last + 1, hlc: hooks.clock.tick() };
        await this.db.$transaction([this.db.$executeRaw(insertEventsSql([logged])), this.db.$executeRaw(writeAnswersSql([answer.payload]))]);
        this.#last = logged.seq;
      }
      hooks.appended?.([logged]);
    } finally {
      release();
    }
    await hooks.committed([logged]);
  }

  /**
   * On a shared log: takes the log's lock (held until the transaction ends),
   * then reads where this origin's numbering stands and moves the clock past
   * every HLC logged, by any process.
   */
  async #continueLog(tx: Tx, hooks: ReplicationHooks): Promise<number> {
    await lockLog(tx);
    const { last, latestHlc } = await logPosition(tx, hooks.origin);
    if (latestHlc !== null) hooks.clock.observe(latestHlc);
    return last;
  }
}

/** What a write locks before its work runs (shared log only; SQLite runs one write at a time): the state its checks read, e.g. whether a name is free. */
export interface WriteOptions {
  lock?: readonly WriteLock[];
}

/** Records a service's events: logged, and projected into registers and rows, within the write's transaction (the rows are there when it resolves). */
export type RecordEvents = (...events: NewEvent[]) => Promise<void>;


/** Thrown by `deliver` when the write whose transaction waited for the answer did not commit: the answer must not be sent. */
export class WriteNotCommittedError extends Error {
  constructor(readonly reason: unknown) {
    super("the write was not committed");
  }
}

/** The events of one request's writes, held until its answer is recorded (or known not to be kept). */
class HeldRequest {
  /** Committed, not delivered yet. */
  readonly events: LoggedEvent[] = [];
  released = false;
  /** The write whose transaction waits for the answer. */
  #waiting: { give(answer: AnswerEvent | undefined): void; committed: Promise<{ logged: LoggedEvent[]; answered: boolean }> } | undefined;
  /** A write that stopped waiting for the answer and commits on its own. */
  #committing: Promise<unknown> | undefined;
  #failure: WriteNotCommittedError | undefined;
  /** Set once `deliver` took the held events: events committed later are delivered on their own. */
  #taken = false;

  constructor(readonly outbox: Outbox) {}

  /** Whether the next write may wait for the answer. */
  open(): boolean {
    return !this.released && this.#waiting === undefined && this.#committing === undefined && this.events.length === 0;
  }

  changed(): boolean {
    return this.events.length > 0 || this.#waiting !== undefined || this.#committing !== undefined || this.#failure !== undefined;
  }

  /** The waiting write commits without the answer, which is then recorded after it. */
  answerLater(): void {
    this.#waiting?.give(undefined);
  }

  commitWithAnswer<T>(work: (tx: Tx, record: RecordEvents) => Promise<T>, options: WriteOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let handedOut = false;
      let given!: (answer: AnswerEvent | undefined) => void;
      const answer = new Promise<AnswerEvent | undefined>((resolveAnswer) => { given = resolveAnswer; });
      const committed = this.outbox.commit(work, (result) => {
        // The caller answers with the result while this transaction waits for that answer.
        handedOut = true;
        this.#waiting = waiting;
        const timer = setTimeout(() => this.answerLater(), TRACKER.ANSWER_WAIT_MS);
        resolve(result);
        return answer.finally(() => clearTimeout(timer));
      }, options);
      const waiting = {
        committed,
        give: (a: AnswerEvent | undefined) => {
          if (this.#waiting !== waiting) return;
          this.#waiting = undefined;
          // Without the answer: the write commits alone, delivered as any other write of this request.
          if (a === undefined) this.#committing = committed;
          given(a);
        },
      };
      committed.then(
        ({ result, logged, answered }) => {
          if (this.#committing === committed) this.#committing = undefined;
          if (!handedOut) resolve(result);
          // With the answer, `deliver` delivers both.
          if (answered || logged.length === 0) return;
          if (!this.#taken) this.events.push(...logged);
          else void this.outbox.delivered(logged);
        },
        (error: unknown) => {
          if (this.#committing === committed) this.#committing = undefined;
          if (!handedOut) reject(error);
          else this.#failure = new WriteNotCommittedError(error);
        },
      );
    });
  }

  async deliver(answer?: AnswerEvent): Promise<void> {
    if (this.released) return;
    this.released = true;
    const waiting = this.#waiting;
    if (waiting) {
      waiting.give(answer);
      let outcome: { logged: LoggedEvent[]; answered: boolean };
      try {
        outcome = await waiting.committed;
      } catch (error) {
        throw new WriteNotCommittedError(error);
      }
      if (outcome.answered) {
        await this.outbox.delivered([...this.events, ...outcome.logged]);
        return;
      }
    }
    await this.#committing?.catch(() => {});
    this.#taken = true;
    if (this.#failure) throw this.#failure;
    let delivered = false;
    try {
      if (answer !== undefined && this.events.length > 0) {
        // Its push delivers everything not acknowledged yet: the held events, and the answer after them.
        await this.outbox.recordAnswer(answer);
        delivered = true;
      }
    } finally {
      if (!delivered && this.events.length > 0) await this.outbox.delivered(this.events);
    }
  }
}

export type AnswerEvent = Extract<LoggedEvent, { type: "idempotency.answered" }> extends infer E
  ? E extends LoggedEvent ? Pick<E, "type" | "payload"> : never
  : never;

async function lastSeq(tx: Tx | TrackerDb, origin: string): Promise<number> {
  const [row] = await tx.$queryRaw<{ seq: number | bigint | null }[]>`SELECT MAX("seq") AS "seq" FROM "Event" WHERE "origin" = ${origin}`;
  return Number(row?.seq ?? 0);
}

/**
 * Logs a service's events (filling in the incarnations they act under) and
 * projects them into registers and rows, numbered after `last` (on a shared
 * log they are numbered again, under the log's lock, just before the commit:
 * the projection reads their HLCs, never their numbers).
 */
async function recordEvents(tx: Tx, hooks: ReplicationHooks, events: NewEvent[], last: number, touched: Touched, sharedLog: boolean): Promise<LoggedEvent[]> {
  // A shared log is on PostgreSQL, whose statements can hold several writes.
  const batch = new RegisterBatch(sharedLog);
  // On a shared log, read after the keys' locks: every write that touched these keys before has committed (it held
  // their locks), so its HLC is in the log, and this write's HLCs come after it: the last writer by HLC is the last writer.
  const latest = await batch.readKeys(tx, events, { latestHlc: sharedLog });
  if (latest !== null) hooks.clock.observe(latest);
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
  for (const event of logged) batch.apply(event);
  await batch.write(tx, touched);
  return logged;
}
