import type { Tx } from "./open.js";
import { Prisma } from "../generated/prisma/client.js";

/**
 * Writes (INSERT, upsert, DELETE) that return nothing, held back and sent
 * together: on PostgreSQL as one statement of data-modifying WITH queries,
 * one round trip and one call of Prisma's client instead of one each (a
 * statement costs a PostgreSQL write ~0.5 ms of the tracker's CPU in Prisma's
 * client and the pg driver: bench:tracker, docs/postgresql.md); on SQLite,
 * which has no data-modifying WITH, one after the other as before.
 *
 * The parts of one PostgreSQL statement run on one snapshot and do not see
 * each other's rows, so a write to a table that already has a write held is
 * sent after the held ones (`add` flushes first), and whoever reads flushes
 * before (`flush`): the rows are then exactly those the writes one by one
 * would have left.
 */
export class DeferredWrites {
  readonly #held: Prisma.Sql[] = [];
  readonly #tables = new Set<string>();

  constructor(
    private readonly tx: Tx,
    /** PostgreSQL: several writes in one statement. */
    private readonly together: boolean,
  ) {}

  /** Holds a write to `table` (run at once when writes are not sent together). */
  async add(table: string, statement: Prisma.Sql): Promise<void> {
    if (!this.together) {
      await this.tx.$executeRaw(statement);
      return;
    }
    if (this.#tables.has(table)) await this.flush();
    this.#held.push(statement);
    this.#tables.add(table);
  }

  /** Sends every held write: before a read, and at the end. */
  async flush(): Promise<void> {
    if (this.#held.length === 0) return;
    const held = this.#held.splice(0);
    this.#tables.clear();
    if (held.length === 1) {
      await this.tx.$executeRaw(held[0]!);
      return;
    }
    const parts = held.map((statement, i) => Prisma.sql`${Prisma.raw(`"w${i}"`)} AS (${statement})`);
    await this.tx.$executeRaw(Prisma.sql`WITH ${Prisma.join(parts, ", ")} SELECT 1`);
  }
}
