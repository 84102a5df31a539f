/**
 * The statements of the event log and of the idempotency answers it carries:
 * multi-row INSERTs, portable SQL (SQLite and PostgreSQL).
 */
import { chunks } from "../db/chunks.js";
import type { Tx } from "../db/open.js";
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
