import { test } from "node:test";
import assert from "node:assert/strict";
import { DeferredWrites } from "../../src/db/deferred-writes.js";
import type { Tx } from "../../src/db/open.js";
import { Prisma } from "../../src/generated/prisma/client.js";

/** A transaction that only records the statements it is sent (DeferredWrites sends nothing else). */
function recordingTx() {
  const sent: { sql: string; values: unknown[] }[] = [];
  const tx = { $executeRaw: async (statement: Prisma.Sql) => { sent.push({ sql: statement.sql.replace(/\s+/g, " ").trim(), values: statement.values }); return 0; } };
  return { tx: tx as unknown as Tx, sent };
}

const insert = (table: string, value: string) => Prisma.sql`INSERT INTO ${Prisma.raw(`"${table}"`)} ("v") VALUES (${value})`;

test("writes to different tables held together on PostgreSQL go in one statement, each as a part of its WITH, in order", async () => {
  const { tx, sent } = recordingTx();
  const writes = new DeferredWrites(tx, true);
  await writes.add("A", insert("A", "a"));
  await writes.add("B", insert("B", "b"));
  await writes.add("C", Prisma.sql`DELETE FROM "C" WHERE "v" = ${"c"}`);
  assert.equal(sent.length, 0, "nothing is sent before the flush");
  await writes.flush();
  assert.deepEqual(sent, [{
    sql: `WITH "w0" AS (INSERT INTO "A" ("v") VALUES (?)), "w1" AS (INSERT INTO "B" ("v") VALUES (?)), "w2" AS (DELETE FROM "C" WHERE "v" = ?) SELECT 1`,
    values: ["a", "b", "c"],
  }]);
  await writes.flush();
  assert.equal(sent.length, 1, "a flush with nothing held sends nothing");
});

test("a second write to a table goes after the writes held before it, since the parts of one statement do not see each other's rows", async () => {
  const { tx, sent } = recordingTx();
  const writes = new DeferredWrites(tx, true);
  await writes.add("Holding", Prisma.sql`DELETE FROM "Holding" WHERE "v" = ${"x"}`);
  await writes.add("Register", insert("Register", "r"));
  await writes.add("Holding", insert("Holding", "x"));
  await writes.flush();
  assert.deepEqual(sent.map((s) => s.values), [["x", "r"], ["x"]]);
  assert.match(sent[0]!.sql, /^WITH "w0" AS \(DELETE FROM "Holding".*"w1" AS \(INSERT INTO "Register"/);
  assert.equal(sent[1]!.sql, `INSERT INTO "Holding" ("v") VALUES (?)`, "one write alone is sent as it is");
});

test("on SQLite every write is sent at once, one statement each", async () => {
  const { tx, sent } = recordingTx();
  const writes = new DeferredWrites(tx, false);
  await writes.add("A", insert("A", "a"));
  assert.equal(sent.length, 1);
  await writes.add("B", insert("B", "b"));
  await writes.flush();
  assert.deepEqual(sent.map((s) => s.values), [["a"], ["b"]]);
});
