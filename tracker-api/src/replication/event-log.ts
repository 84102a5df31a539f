/**
 * The statements of the event log and of the idempotency answers it carries:
 * multi-row INSERTs, portable SQL (SQLite and PostgreSQL).
 */
import { chunks } from "../db/chunks.js";
import type { TrackerDb, Tx } from "../db/open.js";
import { Prisma } from "../generated/prisma/client.js";
import type { LoggedEvent } from "./events.js";

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
  for (const part of chunks(answers, 20)) await tx.$executeRaw(writeAnswersSql(part));
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
