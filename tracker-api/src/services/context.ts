import type { TRACKER } from "../config.js";
import type { TrackerDb } from "../db/open.js";
import type { SharedLoginThrottle } from "../replication/login-attempts.js";
import type { Outbox } from "../replication/outbox.js";
import type { FileListCache } from "./file-lists.js";
import type { HeartbeatCoalescer } from "./heartbeats.js";
import type { SessionCache } from "./sessions.js";

/**
 * What the services need of the tracker they act for: its database, the
 * outbox that records and delivers its events, and the state it keeps in
 * memory. The tracker object (tracker.ts) is one; services never reach for
 * anything else, so several trackers can run in one process.
 */
export interface ServiceContext {
  readonly db: TrackerDb;
  readonly outbox: Outbox;
  readonly sessions: SessionCache;
  readonly fileLists: FileListCache;
  readonly heartbeats: HeartbeatCoalescer;
  readonly loginThrottle: SharedLoginThrottle;
  /** Per-user quotas: TRACKER.QUOTAS unless a test sets smaller ones. */
  readonly quotas: Quotas;
  /** Milliseconds since the epoch: Date.now, or a test's clock. */
  readonly clock: () => number;
}

/** How many of each thing one user may have (see TRACKER.QUOTAS). */
export type Quotas = { readonly [K in keyof typeof TRACKER.QUOTAS]: number };
