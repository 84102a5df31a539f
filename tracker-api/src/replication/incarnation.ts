import { randomBytes } from "node:crypto";
import type { TrackerDb } from "../db/open.js";

/** Who this database is in the log: the origin its events carry, and whether it is new (nothing logged, nothing received). */
export interface Incarnation {
  origin: string;
  /** The database was made just now: what its tracker had before (if anything) is to be pulled back from the others. */
  fresh: boolean;
}

/**
 * The origin of this tracker's events, from its database's incarnation (made
 * once, when the database is created): "<tracker id>.<incarnation>". A tracker
 * restarted on an empty data directory gets a new incarnation, so its new
 * events never reuse sequence numbers the others saw from its lost database:
 * its old events stay under the old origin, which it pulls back like any
 * other's. A database that logged events before incarnations existed keeps
 * the tracker id as its origin.
 */
export async function loadIncarnation(db: TrackerDb, trackerId: string): Promise<Incarnation> {
  const row = await db.replica.findUnique({ where: { id: 1 } });
  if (row) return { origin: originOf(trackerId, row.incarnation), fresh: false };
  const logged = await db.event.findFirst({ select: { origin: true } });
  const legacy = (await db.event.findFirst({ where: { origin: trackerId }, select: { seq: true } })) !== null;
  const incarnation = legacy ? "" : randomBytes(6).toString("hex");
  try {
    await db.replica.create({ data: { id: 1, incarnation, createdAt: new Date() } });
  } catch (error) {
    // Another API process of this tracker (same PostgreSQL database) made it first: take its incarnation.
    const made = await db.replica.findUnique({ where: { id: 1 } });
    if (!made) throw error;
    return { origin: originOf(trackerId, made.incarnation), fresh: logged === null };
  }
  return { origin: originOf(trackerId, incarnation), fresh: logged === null };
}

const originOf = (trackerId: string, incarnation: string) => (incarnation === "" ? trackerId : `${trackerId}.${incarnation}`);

/** Whether `origin` is an incarnation of tracker `trackerId` (its own origin or an earlier one). */
export const isOriginOf = (origin: string, trackerId: string): boolean => origin === trackerId || origin.startsWith(`${trackerId}.`);
