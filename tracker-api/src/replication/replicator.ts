import { rootCertificates } from "node:tls";
/**
 * Delivery between trackers: pushes this tracker's events to every other one
 * right after each commit (the client waits at most TRACKER.PUSH_WAIT_MS for it),
 * retries from the log with exponential backoff, and pulls what it missed
 * (catch-up) at start, periodically and when a push shows a gap. Received
 * events are applied once, in per-origin sequence order.
 */
import { recentAnswer } from "../../../core/recent-answer.js";
import { Agent, request } from "undici";
import type { Logger } from "pino";
import type { PeerTrackerHealth as PeerHealth } from "../../../core/api-types.js";
import { Codes, UnavailableError, ValidationError } from "../../../core/errors.js";
import type { TrackerDb } from "../db/open.js";
import { stateDigest } from "./digest.js";
import { type Heads, KeptDigest } from "./kept-digest.js";
import { EVENT_TYPES, type LoggedEvent, upgradeEvent } from "./events.js";
import { HybridClock, isHlc } from "./hlc.js";
import { Outbox, type ReplicationHooks } from "./outbox.js";
import { sign } from "./signing.js";
import { allHeads, headsOf, insertEvents } from "./event-log.js";
import { nothingTouched, RegisterBatch, type Touched } from "./register-batch.js";
import { TRACKER } from "../config.js";



export interface PeerTracker {
  id: string;
  url: string;
}

export interface ReplicatorOptions {
  /** The tracker's id ("tracker-N"), as its peers know it. */
  selfId: string;
  /** The origin of this tracker's events (loadIncarnation); the tracker id when absent. */
  origin?: string;
  /** The database is new: pull back what the others have (this tracker's earlier incarnations included) before accepting writes. */
  fresh?: boolean;
  peers: PeerTracker[];
  secret: string;
  logger?: Logger;
  /** Told what applied events changed, to drop cached state. */
  onApplied?: (touched: Touched) => void;
  /** PEM certificates trusted for https peer trackers besides the system's CAs (--ca). */
  ca?: string;
  /** The tracker's outbox: local writes are pushed through this replicator, and batches from others are applied under its write lock. A new one when absent (tests of replication alone). */
  outbox?: Outbox;
}


export class Replicator implements ReplicationHooks {
  readonly origin: string;
  readonly clock: HybridClock;
  readonly links: PeerLink[];
  readonly outbox: Outbox;
  /** Highest applied seq per origin (this tracker's own included). */
  readonly heads = new Map<string, number>();
  /** Test switch: drop deliveries in both directions. */
  blocked = false;
  /**
   * Test switch: the peers (tracker ids) this tracker does not call. A link
   * between two trackers is cut by setting it on both: every delivery (push
   * or pull) is started by a call, so neither side then hears of the other
   * except through a third tracker.
   */
  readonly cutPeers = new Set<string>();
  #applying: Promise<unknown> = Promise.resolve();
  /** This tracker's latest events by seq, so pushes and pulls of recent events need no database read. */
  readonly #recent = new Map<number, LoggedEvent>();
  /** The highest seq of this tracker's own events known in this process (committed here or told by a sibling). */
  #newestKnown = 0;
  #catchingUp = true;
  #recovering: boolean;
  #timer: NodeJS.Timeout | undefined;
  readonly #dispatcher: Agent;

  constructor(
    readonly db: TrackerDb,
    private readonly options: ReplicatorOptions,
  ) {
    // https peers' certificates are checked (system CAs plus --ca); the HMAC signature still proves the sender.
    const ca = options.ca ? { ca: [...rootCertificates, options.ca] } : {};
    this.#dispatcher = new Agent({
      connect: { timeout: TRACKER.PEER_CONNECT_TIMEOUT_MS, ...ca },
      headersTimeout: TRACKER.PEER_ANSWER_TIMEOUT_MS,
      bodyTimeout: TRACKER.PEER_ANSWER_TIMEOUT_MS,
      keepAliveTimeout: TRACKER.PEER_KEEP_ALIVE_MS,
    });
    this.origin = options.origin ?? options.selfId;
    this.clock = new HybridClock(this.origin);
    this.links = options.peers.map((peer) => new PeerLink(this, peer));
    this.outbox = options.outbox ?? new Outbox(db, options.onApplied);
    this.outbox.replicateThrough(this);
    this.#recovering = options.fresh === true && this.links.length > 0;
  }

  get selfId(): string {
    return this.options.selfId;
  }

  /** Throws 503 (with Retry-After) while a tracker on a new database has not pulled back what the others have. */
  checkWritable(): void {
    if (this.#recovering) {
      throw new UnavailableError(
        "this tracker is recovering its data from the other trackers; try again shortly or use another tracker",
        Codes.TRACKER_RECOVERING, TRACKER.RECOVERING_RETRY_AFTER_S,
      );
    }
  }

  get logger(): Logger | undefined {
    return this.options.logger;
  }

  get status(): "ok" | "catching-up" | "recovering" {
    return this.#recovering ? "recovering" : this.#catchingUp ? "catching-up" : "ok";
  }

  /** Loads the log's heads and the clock, then catches up in the background. */
  async start(): Promise<void> {
    await this.refreshHeads();
    const latest = await this.db.event.findFirst({ orderBy: { hlc: "desc" }, select: { hlc: true } });
    if (latest) this.clock.observe(latest.hlc);
    void this.#initialCatchUp();
    this.#timer = setInterval(async () => {
      if (this.outbox.sharedLog) await this.refreshHeads().catch(() => {});
      for (const link of this.links) {
        void link.catchUp();
        if (link.unacknowledged() > 0) void link.kick();
      }
    }, TRACKER.ANTI_ENTROPY_MS);
    this.#timer.unref();
  }

  async #initialCatchUp(): Promise<void> {
    const started = Date.now();
    for (;;) {
      await Promise.all(this.links.map((link) => link.catchUp()));
      if (!this.#recovering) break;
      // Recovered: some tracker answered, and nothing any tracker that answered has is missing here.
      const answered = this.links.filter((link) => link.health().reachable);
      if (answered.length > 0 && answered.every((link) => link.health().behind === 0)) break;
      // Nobody to ask: no other tracker is running (every connection refused), or none answered in time.
      // The origin is new either way, so writes from now on are safe; what was lost comes back when one answers.
      const noneRunning = this.links.every((link) => link.refused);
      if (answered.length === 0 && (noneRunning || Date.now() - started > TRACKER.RECOVERY_WAIT_MS)) {
        this.logger?.warn("replication: no other tracker answered; taking this database as new");
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, TRACKER.RECOVERY_POLL_MS));
    }
    if (this.#recovering) this.logger?.info({ heads: Object.fromEntries(this.heads) }, "replication: recovered from the other trackers");
    this.#recovering = false;
    this.#catchingUp = false;
    this.logger?.info({ heads: Object.fromEntries(this.heads) }, "replication: caught up");
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#kept.stop();
    for (const link of this.links) link.stop();
    void this.#dispatcher.close();
  }

  /** Keeps this tracker's newest events in memory: its own after each commit, and on a shared log its sibling processes' (told by their commits). */
  appended(events: readonly LoggedEvent[]): void {
    for (const event of events) {
      this.#recent.set(event.seq, event);
      this.#newestKnown = Math.max(this.#newestKnown, event.seq);
    }
    while (this.#recent.size > TRACKER.RECENT_EVENTS) this.#recent.delete(this.#recent.keys().next().value!);
  }

  /** After a local write committed: push to every peer, waiting at most TRACKER.PUSH_WAIT_MS. */
  async committed(events: readonly LoggedEvent[]): Promise<void> {
    const last = events.at(-1);
    if (last) this.heads.set(this.origin, Math.max(this.heads.get(this.origin) ?? 0, last.seq));
    if (this.links.length === 0 || !last) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(this.links.map((link) => link.kick(last.seq))),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, TRACKER.PUSH_WAIT_MS); }),
    ]);
    clearTimeout(timer);
  }

  /**
   * Applies events received from another tracker, each origin in sequence
   * order: already-applied ones are skipped, and a gap stops that origin
   * (the missing ones are pulled). Returns the heads after applying.
   */
  receive(events: LoggedEvent[]): Promise<{ heads: Heads; gap: boolean }> {
    const run = this.#applying.then(() => this.#receive(events));
    this.#applying = run.catch(() => undefined);
    return run;
  }

  async #receive(events: LoggedEvent[]): Promise<{ heads: Heads; gap: boolean }> {
    // Events at or below a head known here are applied already (heads only grow): a push that repeats them, as
    // the API processes of a tracker on PostgreSQL each push what their siblings committed, needs no transaction.
    const sorted = [...events].filter((e) => e.origin !== this.origin && e.seq > (this.heads.get(e.origin) ?? 0))
      .sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : a.seq - b.seq));
    const touched = nothingTouched();
    let gap = false;
    if (sorted.length > 0) {
      // One transaction per batch: its registers read at once, merged in memory, rows rebuilt once.
      // The heads are read from the log inside it: another process of this tracker may have applied some of these.
      const heads = await this.outbox.logTransaction(async (tx) => {
        const heads = await headsOf(tx, [...new Set(sorted.map((e) => e.origin))]);
        const applicable: LoggedEvent[] = [];
        for (const event of sorted) {
          const head = heads.get(event.origin) ?? 0;
          if (event.seq <= head) continue;
          if (event.seq > head + 1) {
            gap = true;
            continue;
          }
          // Events logged before internal ids existed are read as the database conversion read its rows.
          applicable.push(upgradeEvent(event));
          heads.set(event.origin, event.seq);
        }
        if (applicable.length === 0) return heads;
        // A shared log is on PostgreSQL, whose statements can hold several writes.
        const batch = new RegisterBatch(this.outbox.sharedLog);
        await batch.read(tx, applicable);
        for (const event of applicable) {
          this.clock.observe(event.hlc);
          batch.apply(event);
        }
        await insertEvents(tx, applicable);
        await batch.write(tx, touched);
        return heads;
      }, { timeout: TRACKER.APPLY_TRANSACTION_TIMEOUT_MS, maxWait: TRACKER.APPLY_TRANSACTION_TIMEOUT_MS });
      for (const [origin, seq] of heads) this.heads.set(origin, Math.max(seq, this.heads.get(origin) ?? 0));
      this.options.onApplied?.(touched);
    }
    return { heads: this.headsObject(), gap };
  }

  /**
   * Reads every origin's head from the log. On a shared log (several API
   * processes on one PostgreSQL database) the others' writes and applied
   * batches move the heads behind this process's back: read before answering
   * a peer's question about them, and on every anti-entropy round (which then
   * pushes what another process committed and could not deliver).
   */
  async refreshHeads(): Promise<void> {
    for (const [origin, seq] of await allHeads(this.db)) this.heads.set(origin, Math.max(seq, this.heads.get(origin) ?? 0));
  }

  /** The heads as a peer may rely on them: read from the log first on a shared log. */
  async currentHeads(): Promise<Heads> {
    if (this.outbox.sharedLog) await this.refreshHeads();
    return this.headsObject();
  }

  headsObject(): Heads {
    return Object.fromEntries(this.heads);
  }

  /**
   * Whether this process knows of events of its own origin after `seq`: a
   * push that has delivered all of them stops without asking the log. Events
   * a sibling process committed and this one has not heard of are pushed by
   * that process after its commit, and by every process's anti-entropy round
   * once the heads are read again.
   */
  knowsOwnEventsAfter(seq: number): boolean {
    return seq < Math.max(this.#newestKnown, this.heads.get(this.origin) ?? 0);
  }

  /** This origin's events after `after`, for a peer that pulls. */
  async eventsAfter(origin: string, after: number, limit: number): Promise<LoggedEvent[]> {
    const take = Math.min(Math.max(limit, 1), TRACKER.PULL_BATCH);
    if (origin === this.origin && this.#recent.has(after + 1)) {
      const events: LoggedEvent[] = [];
      for (let seq = after + 1; events.length < take; seq++) {
        const event = this.#recent.get(seq);
        if (!event) break;
        events.push(event);
      }
      return events;
    }
    const rows = await this.db.event.findMany({
      where: { origin, seq: { gt: after } }, orderBy: { seq: "asc" }, take,
    });
    return rows.map((row) => ({ origin: row.origin, seq: row.seq, hlc: row.hlc, type: row.type, payload: JSON.parse(row.payload) }) as LoggedEvent);
  }

  /**
   * The digest /health shows, kept in the background (kept-digest.ts): a
   * health call never reads the state. `diverged` when a reachable tracker has
   * applied exactly the same events (heads equal, nothing pending either way)
   * and still holds another state: something changed a database behind the
   * rules' back, and no replication will repair it.
   */
  readonly #kept = new KeptDigest({
    compute: () => this.stableDigest(),
    version: () => JSON.stringify(this.headsObject()),
    diverges: (digest, heads) => this.#diverges(digest, heads),
  });

  /** Status, peers and, when one describes the current state, the kept digest. Reads nothing from the database. */
  health(): { status: "ok" | "catching-up" | "recovering" | "diverged"; peers: PeerHealth[]; digest?: string } {
    const peers = this.links.map((link) => link.health());
    const { digest, diverged } = this.#kept.read();
    const status = this.status === "ok" && diverged ? "diverged" : this.status;
    return { status, peers, ...(digest !== undefined ? { digest } : {}) };
  }

  /**
   * The state digest read now, with the heads it was computed at (null when
   * events were applied meanwhile), for the signed /replication/digest (other
   * trackers, operators holding the cluster secret) and the kept digest.
   * Concurrent callers share one reading, reused while no event was applied
   * (up to TRACKER.HEALTH_ANSWER_MS) and for TRACKER.HEALTH_FLOOD_MS whatever happened.
   */
  readonly stableDigest = recentAnswer(() => this.#stableDigest(), {
    maxAgeMs: TRACKER.HEALTH_ANSWER_MS, minAgeMs: TRACKER.HEALTH_FLOOD_MS, version: () => JSON.stringify(this.headsObject()),
  });

  async #diverges(digest: string, heads: Heads): Promise<boolean> {
    if (this.status !== "ok") return false;
    for (const link of this.links) {
      const peer = link.health();
      if (!peer.reachable || peer.behind > 0 || peer.unacknowledged > 0) continue;
      const theirs = await link.digest();
      if (theirs?.heads && theirs.digest !== digest && sameHeads(theirs.heads, heads)) return true;
    }
    return false;
  }

  async #stableDigest(): Promise<{ digest: string; heads: Heads | null }> {
    const before = JSON.stringify(this.headsObject());
    const digest = await stateDigest(this.db);
    const heads = this.headsObject();
    return { digest, heads: JSON.stringify(heads) === before ? heads : null };
  }

  /** A signed request to a peer; throws on transport failure or a non-2xx answer. */
  async call<T>(peer: PeerTracker, method: "GET" | "POST", target: string, body?: unknown): Promise<T> {
    if (this.blocked || this.cutPeers.has(peer.id)) throw new UnavailableError("replication blocked by the test switch", Codes.REPLICATION_BLOCKED);
    const text = body === undefined ? "" : JSON.stringify(body);
    const response = await request(`${peer.url}${target}`, {
      method,
      dispatcher: this.#dispatcher,
      headers: { ...sign(this.options.secret, method, target, text), ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: text }),
    });
    if (response.statusCode >= 300) {
      const detail = await response.body.text();
      throw new UnavailableError(`${peer.id} answered ${response.statusCode}: ${detail.slice(0, 200)}`, Codes.REPLICATION_REFUSED);
    }
    return (await response.body.json()) as T;
  }

  linkFor(origin: string): PeerLink | undefined {
    return this.links.find((link) => link.peer.id === origin);
  }
}

interface Waiter {
  seq: number;
  resolve: () => void;
}

/** One other tracker: what it has acknowledged, and the push and pull loops towards it. */
class PeerLink {
  /** Highest seq of ours the peer confirmed; unknown until its heads are read. */
  acked: number | undefined;
  remoteHeads: Heads = {};
  lastContactAt: Date | undefined;
  lastError: string | undefined;
  /** The last attempt found nothing listening at the peer's address (connection refused). */
  refused = false;
  #failures = 0;
  #running: Promise<void> | undefined;
  #again = false;
  /** Writers waiting for the peer to acknowledge their events (by their last seq). */
  #waiters: Waiter[] = [];
  #retry: NodeJS.Timeout | undefined;
  #pulling: Promise<void> | undefined;
  #stopped = false;

  constructor(
    private readonly replicator: Replicator,
    readonly peer: PeerTracker,
  ) {}

  unacknowledged(): number {
    return Math.max(0, (this.replicator.heads.get(this.replicator.origin) ?? 0) - (this.acked ?? 0));
  }

  health(): PeerHealth {
    let behind = 0;
    for (const [origin, seq] of Object.entries(this.remoteHeads)) {
      if (origin !== this.replicator.origin) behind += Math.max(0, seq - (this.replicator.heads.get(origin) ?? 0));
    }
    return {
      trackerId: this.peer.id,
      url: this.peer.url,
      reachable: this.#failures === 0 && this.lastContactAt !== undefined,
      lastContactAt: this.lastContactAt?.toISOString() ?? null,
      behind,
      unacknowledged: this.unacknowledged(),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
  }

  /**
   * Pushes everything the peer has not acknowledged; concurrent callers share
   * one loop. With `upTo`, resolves as soon as the peer acknowledged that seq
   * (not when the loop runs dry: under a steady load it rarely does), or when
   * the loop stops (a failure is retried in the background). Never rejects.
   */
  kick(upTo?: number): Promise<void> {
    if (upTo !== undefined && this.acked !== undefined && this.acked >= upTo) return Promise.resolve();
    const acknowledged = upTo === undefined ? undefined : new Promise<void>((resolve) => this.#waiters.push({ seq: upTo, resolve }));
    if (this.#running) {
      this.#again = true;
      return acknowledged ?? this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#drain();
        } while (this.#again);
        this.#succeeded();
      } catch (error) {
        this.#failed(error);
      } finally {
        this.#running = undefined;
        this.#release(Infinity);
      }
    })();
    return acknowledged ?? this.#running;
  }

  /** Resolves the writers whose events are acknowledged up to `seq`. */
  #release(seq: number): void {
    if (this.#waiters.length === 0) return;
    const waiting: Waiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.seq <= seq) waiter.resolve();
      else waiting.push(waiter);
    }
    this.#waiters = waiting;
  }

  async #drain(): Promise<void> {
    const { replicator } = this;
    if (this.acked === undefined) await this.#readHeads();
    for (;;) {
      const before = this.acked!;
      // Asking the log whether anything came after the last event pushed cost a query at the end of every push.
      if (!replicator.knowsOwnEventsAfter(before)) return;
      const events = await replicator.eventsAfter(replicator.origin, before, TRACKER.PUSH_BATCH);
      if (events.length === 0) return;
      const answer = await replicator.call<{ heads: Heads }>(this.peer, "POST", "/replication/events", { from: replicator.selfId, events });
      this.#contact(answer.heads);
      if (this.acked! <= before) throw new Error(`${this.peer.id} did not take events after ${before}`);
    }
  }

  /** The peer's digest and the heads it was computed at (undefined when it does not answer). */
  async digest(): Promise<{ digest: string; heads: Heads | null } | undefined> {
    return this.replicator.call<{ digest: string; heads: Heads | null }>(this.peer, "GET", "/replication/digest").catch(() => undefined);
  }

  async #readHeads(): Promise<void> {
    const answer = await this.replicator.call<{ heads: Heads }>(this.peer, "GET", "/replication/heads");
    this.#contact(answer.heads);
  }

  #contact(heads: Heads): void {
    this.remoteHeads = heads;
    this.acked = heads[this.replicator.origin] ?? 0;
    this.lastContactAt = new Date();
    this.#release(this.acked);
  }

  #succeeded(): void {
    if (this.#failures > 0) this.replicator.logger?.info({ peer: this.peer.id }, "replication: peer reachable again");
    this.#failures = 0;
    this.lastError = undefined;
  }

  #failed(error: unknown): void {
    this.#failures += 1;
    this.lastError = (error as Error).message;
    if (this.#failures === 1) this.replicator.logger?.warn({ peer: this.peer.id, err: this.lastError }, "replication: peer unreachable; retrying with backoff");
    if (this.#stopped) return;
    const delay = Math.min(TRACKER.MAX_BACKOFF_MS, TRACKER.FIRST_BACKOFF_MS * 2 ** (this.#failures - 1));
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => void this.kick(), delay);
    this.#retry.unref();
  }

  /** Pulls every event the peer has and this tracker lacks, origin by origin. Never rejects. */
  catchUp(): Promise<void> {
    this.#pulling ??= this.#pull()
      .then(
        () => {
          this.refused = false;
          this.#succeeded();
        },
        (error: unknown) => {
          // The periodic catch-up tries again; the push loop keeps its own backoff.
          this.#failures = Math.max(1, this.#failures);
          this.lastError = (error as Error).message;
          const { code, cause } = error as { code?: string; cause?: { code?: string } };
          this.refused = code === "ECONNREFUSED" || cause?.code === "ECONNREFUSED";
        },
      )
      .finally(() => { this.#pulling = undefined; });
    return this.#pulling;
  }

  async #pull(): Promise<void> {
    const { replicator } = this;
    await this.#readHeads();
    for (const [origin, remoteHead] of Object.entries(this.remoteHeads)) {
      if (origin === replicator.origin) continue;
      while ((replicator.heads.get(origin) ?? 0) < remoteHead) {
        const after = replicator.heads.get(origin) ?? 0;
        const query = `origin=${encodeURIComponent(origin)}&after=${after}&limit=${TRACKER.PULL_BATCH}`;
        const answer = await replicator.call<{ events: LoggedEvent[] }>(this.peer, "GET", `/replication/events?${query}`);
        if (answer.events.length === 0) break;
        await replicator.receive(answer.events.map(checkEvent));
        if ((replicator.heads.get(origin) ?? 0) === after) break;
      }
    }
  }
}

function sameHeads(a: Heads, b: Heads): boolean {
  const origins = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...origins].every((origin) => (a[origin] ?? 0) === (b[origin] ?? 0));
}

/** Shape check of an event from another tracker (signed, but checked before it reaches the database). */
export function checkEvent(value: unknown): LoggedEvent {
  const e = value as Partial<LoggedEvent> | null;
  if (
    typeof e !== "object" || e === null || typeof e.origin !== "string" || e.origin === "" || !Number.isInteger(e.seq) ||
    (e.seq as number) < 1 || !isHlc(e.hlc) || !EVENT_TYPES.includes(e.type as LoggedEvent["type"]) ||
    typeof e.payload !== "object" || e.payload === null
  ) {
    throw new ValidationError("malformed replication event", Codes.BAD_REPLICATION_EVENT);
  }
  return { origin: e.origin, seq: e.seq, hlc: e.hlc, type: e.type, payload: e.payload } as LoggedEvent;
}
