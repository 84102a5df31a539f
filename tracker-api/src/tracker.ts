/**
 * The tracker object: everything one tracker keeps besides its database
 * (sequence numbers in its outbox, caches, the login throttle, replication
 * links) is created here, owned here and closed here. On PostgreSQL one
 * tracker may be several such objects, one per API process, told of each
 * other's changes through `siblings`. Services and
 * controllers get it passed in; nothing is kept in module-level state, so
 * several trackers run side by side in one process (the tests do).
 */
import type { Logger } from "pino";
import { TRACKER } from "./config.js";
import type { TrackerDb } from "./db/open.js";
import { LoginThrottle } from "./domain/login-throttle.js";
import { Pacer } from "./http/health-pacing.js";
import type { GrantKey } from "./grant-key.js";
import { Outbox } from "./replication/outbox.js";
import { SharedLoginThrottle } from "./replication/login-attempts.js";
import { Replicator, type PeerTracker } from "./replication/replicator.js";
import { nothingTouched, type Touched } from "./replication/register-batch.js";
import { type SiblingMessage, type Siblings, touchedMessage } from "./replication/siblings.js";
import type { Quotas, ServiceContext } from "./services/context.js";
import { FileListCache } from "./services/file-lists.js";
import { HeartbeatCoalescer } from "./services/heartbeats.js";
import { SessionCache } from "./services/sessions.js";

export interface ReplicationOptions {
  /** The origin of this tracker's events (loadIncarnation); the tracker id when absent. */
  origin?: string;
  /** The database is new: pull back what the others have before accepting writes. */
  fresh?: boolean;
  peers: PeerTracker[];
  /** Shared by every tracker of the network to sign replication. */
  secret: string;
  logger?: Logger;
  /** Enables the partition switch of the replication routes (tests only). */
  testSwitches?: boolean;
  /** PEM certificates trusted for https peer trackers besides the system's CAs (--ca). */
  ca?: string;
}

export interface TrackerOptions {
  db: TrackerDb;
  /** "tracker-N", as the other trackers and /health know it. */
  id: string;
  grantKey: GrantKey;
  /** Milliseconds since the epoch; Date.now unless a test sets the time. */
  clock?: () => number;
  /** Per-user quotas; TRACKER.QUOTAS for those not given (tests set small ones). */
  quotas?: Partial<Quotas>;
  /** Sync with the other trackers (absent for a tracker on its own, e.g. in tests of one tracker). */
  replication?: ReplicationOptions;
  /**
   * The other API processes of this tracker, on the same PostgreSQL database
   * (replication/siblings.ts): present, the log is shared (numbers and order
   * from the database) and caches and login attempts are told to them.
   */
  siblings?: Siblings;
}

export interface Tracker extends ServiceContext {
  readonly id: string;
  readonly grantKey: GrantKey;
  /** The line /health callers wait in (TRACKER.HEALTH_PACE). */
  readonly healthPacer: Pacer;
  /** Present when the tracker syncs with others. */
  readonly replication: { readonly replicator: Replicator; readonly secret: string; readonly testSwitches: boolean } | undefined;
  /** Starts replication (loads the log's heads, catches up in the background). */
  start(): Promise<void>;
  /** Stops replication; the database stays open (it is the caller's). */
  close(): void;
}

export function createTracker(options: TrackerOptions): Tracker {
  const { db } = options;
  const clock = options.clock ?? Date.now;
  const sessions = new SessionCache(db);
  const fileLists = new FileListCache(db);

  /** What committed events changed (made here, by a sibling process or by other trackers), told to the caches. */
  const forgetLocally = (touched: Touched): void => {
    for (const groupId of touched.groups) fileLists.filesChanged(groupId);
    if (touched.renamed) fileLists.forgetAll();
    if (touched.endedSessions.size > 0 || touched.usersSignedOut.size > 0 || touched.renamed) {
      sessions.forget(touched.endedSessions, touched.usersSignedOut, touched.renamed);
    }
  };
  const { siblings } = options;
  const forgetCachedState = (touched: Touched): void => {
    forgetLocally(touched);
    const message = siblings && touchedMessage(touched);
    if (message) siblings.publish(message);
  };
  const forgetTouched = (message: SiblingMessage): void => {
    if (message.kind === "touched") {
      forgetLocally({
        groups: new Set(message.groups), endedSessions: new Set(message.endedSessions), usersSignedOut: new Set(message.usersSignedOut), renamed: message.renamed,
      });
    } else if (message.kind === "touched-all") forgetLocally({ ...nothingTouched(), renamed: true });
  };
  siblings?.subscribe((message) => {
    if (message.kind !== "committed") return forgetTouched(message);
    if (message.touched) forgetTouched(message.touched);
    // A sibling's events, kept with this process's own for the pushes to the other trackers.
    if (message.events.length > 0) replicator?.appended(message.events.map((event) => ({ ...event, seq: message.after + event.seq })));
  });

  // On a shared log a local commit tells the siblings itself, in its last statement (Outbox, siblings.commitNotice).
  const outbox = siblings
    ? new Outbox(db, forgetLocally, undefined, true, (touched, events) => siblings.commitNotice(touched, events))
    : new Outbox(db, forgetCachedState);
  const sync = options.replication;
  const replicator = sync && new Replicator(db, {
    selfId: options.id,
    origin: sync.origin,
    fresh: sync.fresh,
    peers: sync.peers,
    secret: sync.secret,
    logger: sync.logger,
    onApplied: forgetCachedState,
    outbox,
    ...(sync.ca !== undefined ? { ca: sync.ca } : {}),
  });

  return {
    id: options.id,
    db,
    grantKey: options.grantKey,
    clock,
    quotas: Object.freeze({ ...TRACKER.QUOTAS, ...options.quotas }),
    outbox,
    sessions,
    fileLists,
    heartbeats: new HeartbeatCoalescer(),
    // Failed logins counted here and shared with the other trackers (replication/login-attempts.ts).
    // Paced by real time whatever `clock` says: the pace bounds work, not business time.
    healthPacer: new Pacer(TRACKER.HEALTH_PACE),
    loginThrottle: new SharedLoginThrottle(new LoginThrottle(TRACKER.LOGIN_THROTTLE, clock), replicator, siblings),
    replication: sync && replicator && { replicator, secret: sync.secret, testSwitches: sync.testSwitches === true },
    start: async () => {
      await replicator?.start();
    },
    close: () => {
      replicator?.stop();
    },
  };
}
