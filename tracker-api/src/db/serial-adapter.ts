import type { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";

type Adapter = Awaited<ReturnType<PrismaBetterSQLite3["connect"]>>;
type Transaction = Awaited<ReturnType<Adapter["startTransaction"]>>;
type Query = Parameters<Adapter["queryRaw"]>[0];

/** Told every statement before it runs (tests: the bound values of each, against the driver's limit). */
export type StatementWatcher = (statement: { sql: string; boundValues: number }) => void;

/**
 * Prisma's better-sqlite3 adapter has one connection. It makes transactions
 * wait for each other, but a query outside a transaction runs on that same
 * connection at once: while another request's interactive transaction is open,
 * it reads uncommitted rows, and a write is undone if that transaction rolls
 * back. This driver adapter factory (Prisma's public adapter interface,
 * delegating to the better-sqlite3 one) makes every statement outside a
 * transaction wait until no transaction is open, so each one sees and leaves
 * only committed state. A `watch` function, when given, is told every
 * statement before it runs.
 */
export class SerializedSqliteAdapterFactory {
  readonly provider: PrismaBetterSQLite3["provider"];
  readonly adapterName: string;

  constructor(private readonly factory: PrismaBetterSQLite3, private readonly watch?: StatementWatcher) {
    this.provider = factory.provider;
    this.adapterName = factory.adapterName;
  }

  async connect(): Promise<Adapter> {
    return new SerializedConnection(await this.factory.connect(), this.watch);
  }
}

/** One connection whose statements outside transactions take turns with its transactions. */
class SerializedConnection implements Adapter {
  readonly provider: Adapter["provider"];
  readonly adapterName: string;
  readonly #gate = new Gate();

  constructor(private readonly connection: Adapter, private readonly watch: StatementWatcher | undefined) {
    this.provider = connection.provider;
    this.adapterName = connection.adapterName;
  }

  queryRaw(query: Query): ReturnType<Adapter["queryRaw"]> {
    return this.#gate.run(() => {
      watched(this.watch, query);
      return this.connection.queryRaw(query);
    });
  }

  executeRaw(query: Query): Promise<number> {
    return this.#gate.run(() => {
      watched(this.watch, query);
      return this.connection.executeRaw(query);
    });
  }

  executeScript(script: string): Promise<void> {
    return this.#gate.run(() => this.connection.executeScript(script));
  }

  async startTransaction(isolationLevel?: Parameters<Adapter["startTransaction"]>[0]): Promise<Transaction> {
    const release = await this.#gate.acquire();
    try {
      return new GateHoldingTransaction(await this.connection.startTransaction(isolationLevel), release, this.watch);
    } catch (error) {
      release();
      throw error;
    }
  }

  getConnectionInfo(): ReturnType<NonNullable<Adapter["getConnectionInfo"]>> {
    return this.connection.getConnectionInfo?.() ?? { supportsRelationJoins: false };
  }

  dispose(): Promise<void> {
    return this.connection.dispose();
  }
}

/** A transaction that holds its connection's gate until it commits or rolls back. */
class GateHoldingTransaction implements Transaction {
  readonly provider: Transaction["provider"];
  readonly adapterName: string;
  readonly options: Transaction["options"];

  constructor(private readonly transaction: Transaction, private readonly release: () => void, private readonly watch: StatementWatcher | undefined) {
    this.provider = transaction.provider;
    this.adapterName = transaction.adapterName;
    this.options = transaction.options;
  }

  queryRaw(query: Query): ReturnType<Transaction["queryRaw"]> {
    watched(this.watch, query);
    return this.transaction.queryRaw(query);
  }

  executeRaw(query: Query): Promise<number> {
    watched(this.watch, query);
    return this.transaction.executeRaw(query);
  }

  async commit(): Promise<void> {
    try {
      await this.transaction.commit();
    } finally {
      this.release();
    }
  }

  async rollback(): Promise<void> {
    try {
      await this.transaction.rollback();
    } finally {
      this.release();
    }
  }
}

/** Tells a watcher (tests only) of a statement; without one, nothing is built on the query path. */
const watched = (watch: StatementWatcher | undefined, query: Query) => watch?.({ sql: query.sql, boundValues: query.args.length });

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
