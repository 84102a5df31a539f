/**
 * The outbox: services record the events of a state change in the same
 * transaction as the change (writeTransaction), and the events are applied to
 * the registers there too, so a local write and a replicated one leave the
 * same rows. After the commit the replicator (if any) pushes them to the
 * other trackers before the caller answers its client.
 */
import type { TrackerDb } from "../db/open.js";
import type { LoggedEvent, NewEvent } from "./events.js";
import { HybridClock } from "./hlc.js";
import { applyEvent, groupRegister, nothingTouched, userRegister, type Touched, type Tx } from "./store.js";

/** What the outbox needs from the replicator: who we are, and a push after each commit. */
export interface ReplicationHooks {
  origin: string;
  clock: HybridClock;
  /** Called after a write committed; resolves when the peers took it, or after a short timeout. */
  committed(): Promise<void>;
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

export type RecordEvents = (...events: NewEvent[]) => Promise<void>;

/**
 * Runs a state change in a transaction with `record` for its events, then
 * delivers the events to the other trackers before returning.
 */
export async function writeTransaction<T>(db: TrackerDb, work: (tx: Tx, record: RecordEvents) => Promise<T>): Promise<T> {
  const hooks = hooksOf(db);
  let recorded = false;
  const result = await db.$transaction(async (tx) => {
    const touched = nothingTouched();
    return work(tx, async (...events) => {
      recorded = true;
      for (const event of events) await recordEvent(tx, hooks, event, touched);
    });
  });
  if (recorded) await hooks.committed();
  return result;
}

async function recordEvent(tx: Tx, hooks: ReplicationHooks, event: NewEvent, touched: Touched): Promise<void> {
  const payload: Record<string, unknown> = { ...event.payload };
  if (event.type === "group.created") {
    const previous = await groupRegister(tx, event.payload.groupId);
    payload.after = previous && !previous.live ? previous.hlc : null;
  } else if ("groupId" in payload && payload.groupHlc === undefined) {
    const group = await groupRegister(tx, String(payload.groupId));
    payload.groupHlc = group?.hlc ?? "";
  }
  if (event.type === "session.created" && payload.userHlc === undefined) {
    payload.userHlc = (await userRegister(tx, event.payload.userId))?.hlc ?? "";
  }
  const last = await tx.event.findFirst({ where: { origin: hooks.origin }, orderBy: { seq: "desc" }, select: { seq: true } });
  const logged = { type: event.type, payload, origin: hooks.origin, seq: (last?.seq ?? 0) + 1, hlc: hooks.clock.tick() } as LoggedEvent;
  await tx.event.create({
    data: { origin: logged.origin, seq: logged.seq, hlc: logged.hlc, type: logged.type, payload: JSON.stringify(logged.payload), createdAt: new Date() },
  });
  await applyEvent(tx, logged, touched);
}
