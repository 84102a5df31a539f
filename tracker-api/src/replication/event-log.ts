/**
 * The statements of the event log and of the idempotency answers it carries:
 * multi-row INSERTs, portable SQL (SQLite and PostgreSQL).
 */
import { chunks } from "../db/chunks.js";
import type { TrackerDb, Tx } from "../db/open.js";
import { Prisma } from "../generated/prisma/client.js";
import type { LoggedEvent } from "./events.js";
import type { CommitNotice } from "./siblings.js";
import { lockNumber } from "./write-locks.js";
import { TRACKER } from "../config.js";

/** Appends events to the log (one statement per hundred). */
export async function insertEvents(tx: Tx, events: readonly LoggedEvent[]): Promise<void> {
  for (const part of chunks(events)) await tx.$executeRaw(insertEventsSql(part));
}

/** The statement appending a few events to the log. */
export function insertEventsSql(events: readonly LoggedEvent[]): Prisma.Sql {
  const createdAt = new Date();
  const values = events.map((e) => Prisma.sql`(${e.origin}, ${e.seq}, ${e.hlc}, ${e.type}, ${JSON.stringify(e.payload)}, ${createdAt})`);
  return Prisma.sql`INSERT INTO "Event" ("origin", "seq", "hlc", "type", "payload", "createdAt") VALUES ${Prisma.join(values)}`;
}

type AnswerRow = (LoggedEvent & { type: "idempotency.answered" })["payload"];

/** Stores idempotency answers (a later answer under the same caller and key replaces an earlier one). */
export async function writeAnswers(tx: Tx, answers: readonly AnswerRow[]): Promise<void> {
  for (const part of chunks(answers, TRACKER.ANSWERS_PER_STATEMENT)) await tx.$executeRaw(writeAnswersSql(part));
}

/** The statement keeping a few idempotency answers. */
export function writeAnswersSql(answers: readonly AnswerRow[]): Prisma.Sql {
  const values = answers.map((a) => Prisma.sql`(${a.scope}, ${a.key}, ${a.method}, ${a.path}, ${a.fingerprint}, ${a.status}, ${a.contentType}, ${a.body}, ${new Date(a.createdAt)})`);
  return Prisma.sql`
    INSERT INTO "IdempotencyKey" ("scope", "key", "method", "path", "fingerprint", "status", "contentType", "body", "createdAt")
    VALUES ${Prisma.join(values)}
    ON CONFLICT ("scope", "key") DO UPDATE SET "method" = excluded."method", "path" = excluded."path",
      "fingerprint" = excluded."fingerprint", "status" = excluded."status", "contentType" = excluded."contentType",
      "body" = excluded."body", "createdAt" = excluded."createdAt"`;
}

/**
 * Takes the log's lock until the transaction ends (PostgreSQL only: a
 * transaction-level advisory lock). Every transaction that appends to the log
 * or applies other trackers' events takes it first, so the API processes of
 * one tracker write one log in one order, as a single process would.
 */
export async function lockLog(tx: Tx): Promise<void> {
  await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtext('p2p-tracker.event-log'))::text AS "locked"`;
}

/** The two spaces of write locks (two-integer advisory locks, apart from the log's one-number lock): the apply lock, and the locks of state keys (write-locks.ts). */
const APPLY_SPACE = lockNumber("p2p-tracker.apply");
const KEY_SPACE = lockNumber("p2p-tracker.write-locks");

/**
 * Takes, until the transaction ends, the locks a local write's projection
 * needs (PostgreSQL only; write-locks.ts), in one statement: the apply lock
 * shared (a batch from another tracker takes it exclusive, lockForApply),
 * then each key's lock in the order given.
 */
export async function lockForWrite(tx: Tx, locks: readonly { number: number; exclusive: boolean }[]): Promise<void> {
  const calls = [
    Prisma.sql`pg_advisory_xact_lock_shared(${APPLY_SPACE}::int4, 0)::text`,
    ...locks.map((l) => (l.exclusive
      ? Prisma.sql`pg_advisory_xact_lock(${KEY_SPACE}::int4, ${l.number}::int4)::text`
      : Prisma.sql`pg_advisory_xact_lock_shared(${KEY_SPACE}::int4, ${l.number}::int4)::text`)),
  ];
  // A select list is evaluated left to right: the locks are taken in the order given.
  await tx.$queryRaw`SELECT ${Prisma.join(calls, ", ")}`;
}

/**
 * Takes the apply lock exclusive, then the log's lock, until the transaction
 * ends (PostgreSQL only): a batch from another tracker reads and writes
 * registers of any key, so it waits for the local writes in flight, which
 * wait for it.
 */
export async function lockForApply(tx: Tx): Promise<void> {
  await tx.$queryRaw`SELECT pg_advisory_xact_lock(${APPLY_SPACE}::int4, 0)::text AS "locked"`;
  await lockLog(tx);
}

/**
 * Appends a write's events to a shared log, numbered after the origin's last
 * one, with the idempotency answers they carry, in one statement (PostgreSQL:
 * a data-modifying WITH), after lockLog: the statement's snapshot is taken
 * once the lock is held, so it sees every number handed out before. The
 * events' `seq` counts from 1 within the write; returns the number the log
 * stood at, which the caller adds. One statement instead of three, because
 * every statement run while the log's lock is held makes all the tracker's
 * other writes wait a round trip longer (bench:tracker, docs/postgresql.md).
 * With `notice`, the same statement notifies the tracker's other processes
 * of the commit (siblings.ts).
 */
export async function appendToSharedLog(
  tx: Tx, origin: string, events: readonly LoggedEvent[], answers: readonly AnswerRow[], notice?: CommitNotice,
): Promise<number> {
  if (events.length > TRACKER.REGISTER_CONDITIONS_PER_STATEMENT || answers.length > TRACKER.ANSWERS_PER_STATEMENT) {
    const { last } = await logPosition(tx, origin);
    await insertEvents(tx, events.map((e) => ({ ...e, seq: last + e.seq })));
    await writeAnswers(tx, answers);
    if (notice) await tx.$queryRaw`SELECT pg_notify(${notice.channel}, ${`${notice.head}${last}${notice.tail}`})::text AS "notified"`;
    return last;
  }
  const createdAt = new Date();
  const last = Prisma.sql`(SELECT "seq" FROM "last")`;
  const values = events.map((e) => Prisma.sql`(${e.origin}, ${last} + ${e.seq}::int, ${e.hlc}, ${e.type}, ${JSON.stringify(e.payload)}, ${createdAt})`);
  const kept = answers.length === 0 ? Prisma.empty : Prisma.sql`, "answers" AS (${writeAnswersSql(answers)})`;
  // Sent by PostgreSQL when the transaction commits (never if it rolls back), with the log's position in it.
  const notified = notice === undefined ? Prisma.empty
    : Prisma.sql`, pg_notify(${notice.channel}, ${notice.head} || (SELECT "seq" FROM "last")::text || ${notice.tail})::text AS "notified"`;
  const [row] = await tx.$queryRaw<{ last: number | bigint }[]>`
    WITH "last" AS (SELECT COALESCE(MAX("seq"), 0) AS "seq" FROM "Event" WHERE "origin" = ${origin})${kept},
    "appended" AS (INSERT INTO "Event" ("origin", "seq", "hlc", "type", "payload", "createdAt") VALUES ${Prisma.join(values)} RETURNING "seq")
    SELECT (SELECT "seq" FROM "last") AS "last"${notified} FROM "appended" LIMIT 1`;
  return Number(row!.last);
}

/** This origin's last sequence number and the latest HLC of the whole log (read after lockLog, so no other process moves them until commit). */
export async function logPosition(tx: Tx, origin: string): Promise<{ last: number; latestHlc: string | null }> {
  const [row] = await tx.$queryRaw<{ seq: number | bigint | null; hlc: string | null }[]>`
    SELECT (SELECT MAX("seq") FROM "Event" WHERE "origin" = ${origin}) AS "seq", (SELECT MAX("hlc") FROM "Event") AS "hlc"`;
  return { last: Number(row?.seq ?? 0), latestHlc: row?.hlc ?? null };
}

/** The last sequence number logged for each of `origins`. */
export async function headsOf(tx: Tx, origins: readonly string[]): Promise<Map<string, number>> {
  const heads = new Map<string, number>();
  for (const origin of origins) {
    const [row] = await tx.$queryRaw<{ seq: number | bigint | null }[]>`SELECT MAX("seq") AS "seq" FROM "Event" WHERE "origin" = ${origin}`;
    heads.set(origin, Number(row?.seq ?? 0));
  }
  return heads;
}

/**
 * The last sequence number of every origin in the log. A skip scan (one
 * index probe per origin, whatever the log's length) written as a recursive
 * query, which both SQLite and PostgreSQL run from the primary key.
 */
export async function allHeads(db: Tx | TrackerDb): Promise<Map<string, number>> {
  const rows = await db.$queryRaw<{ origin: string; seq: number | bigint }[]>`
    WITH RECURSIVE o("origin") AS (
      SELECT MIN("origin") FROM "Event"
      UNION ALL SELECT (SELECT MIN(e."origin") FROM "Event" e WHERE e."origin" > o."origin") FROM o WHERE o."origin" IS NOT NULL
    )
    SELECT o."origin" AS "origin", (SELECT MAX(e."seq") FROM "Event" e WHERE e."origin" = o."origin") AS "seq" FROM o WHERE o."origin" IS NOT NULL`;
  return new Map(rows.map((row) => [row.origin, Number(row.seq)]));
}
