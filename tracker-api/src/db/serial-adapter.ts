import type { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import type Database from "better-sqlite3";
import { TRACKER } from "../config.js";

type Factory = PrismaBetterSQLite3;
type Adapter = Awaited<ReturnType<Factory["connect"]>>;
type Transaction = Awaited<ReturnType<Adapter["startTransaction"]>>;

/**
 * Prisma's better-sqlite3 adapter has one connection. It makes transactions
 * wait for each other, but a query outside a transaction runs on that same
 * connection at once: while another request's interactive transaction is open,
 * it reads uncommitted rows, and a write is undone if that transaction rolls
 * back. This wrapper makes every statement outside a transaction wait until no
 * transaction is open, so each one sees and leaves only committed state.
 */
export function serializeConnection(factory: Factory, watch?: StatementWatcher): Factory {
  return new Proxy(factory, {
    get(target, property, receiver) {
      if (property === "connect") return async () => serialized(await target.connect(), watch);
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Told every statement before it runs (tests: the bound values of each, against the driver's limit). */
export type StatementWatcher = (statement: { sql: string; boundValues: number }) => void;

function serialized(adapter: Adapter, watch?: StatementWatcher): Adapter {
  const client = (adapter as unknown as { client?: Database.Database }).client;
  if (client) reusePreparedStatements(client);
  const gate = new Gate();
  const seen = (query: { sql: string; args: unknown[] }) => watch?.({ sql: query.sql, boundValues: query.args.length });
  const overrides: Partial<Adapter> = {
    queryRaw: (query) => gate.run(() => { seen(query); return adapter.queryRaw(query); }),
    executeRaw: (query) => gate.run(() => { seen(query); return adapter.executeRaw(query); }),
    executeScript: (script) => gate.run(() => adapter.executeScript(script)),
    async startTransaction(isolationLevel) {
      const release = await gate.acquire();
      try {
        return releasingOnEnd(await adapter.startTransaction(isolationLevel), release, seen);
      } catch (error) {
        release();
        throw error;
      }
    },
  };
  return new Proxy(adapter, {
    get(target, property, receiver) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof Adapter];
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function releasingOnEnd(transaction: Transaction, release: () => void, seen: (query: { sql: string; args: unknown[] }) => void): Transaction {
  const end = (finish: () => Promise<void>) => async () => {
    try {
      await finish();
    } finally {
      release();
    }
  };
  const overrides: Partial<Transaction> = {
    commit: end(() => transaction.commit()),
    rollback: end(() => transaction.rollback()),
    queryRaw: (query) => { seen(query); return transaction.queryRaw(query); },
    executeRaw: (query) => { seen(query); return transaction.executeRaw(query); },
  };
  return new Proxy(transaction, {
    get(target, property, receiver) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof Transaction];
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A first-come first-served lock. */
class Gate {
  #tail: Promise<void> = Promise.resolve();

  /** Resolves with a release function once every earlier holder has released. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => { release = resolve; });
    const turn = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => released);
    return turn;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await work();
    } finally {
      release();
    }
  }
}


/**
 * The adapter prepares every statement again on each query (compiling SQL is
 * a good part of a query's cost here). This keeps the prepared statements by
 * SQL text and hands the adapter a fresh binding of the cached one each time:
 * `prepare(sql).bind(args)` then runs the same statement with these args.
 * Safe because the connection runs one statement at a time and the adapter
 * reads every result at once (no open iterators).
 */
function reusePreparedStatements(db: Database.Database): void {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, Database.Statement>();
  type Handle = Pick<Database.Statement, "reader" | "columns"> & {
    bind(args: unknown[]): Handle;
    run(): Database.RunResult;
    all(): unknown[];
    get(): unknown;
    raw(toggle?: boolean): Handle;
  };
  const handle = (statement: Database.Statement, args: unknown[], raw: boolean): Handle => {
    const mode = () => { if (statement.reader) statement.raw(raw); };
    return {
      reader: statement.reader,
      columns: () => statement.columns(),
      bind: (bound) => handle(statement, bound, raw),
      run: () => statement.run(...args),
      all: () => { mode(); return statement.all(...args); },
      get: () => { mode(); return statement.get(...args); },
      raw: (toggle = true) => handle(statement, args, toggle),
    };
  };
  (db as { prepare: unknown }).prepare = (sql: string): Handle => {
    let statement = cache.get(sql);
    if (statement) cache.delete(sql);
    else {
      statement = prepare(sql);
      if (cache.size >= TRACKER.MAX_PREPARED_STATEMENTS) cache.delete(cache.keys().next().value!);
    }
    cache.set(sql, statement);
    return handle(statement, [], false);
  };
}
