import type {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  Driver,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely';
import type { StorageCounters } from '../observability/storage-counters.js';

/** A connection that counts each statement before handing it to the real one. */
class CountingConnection implements DatabaseConnection {
  constructor(
    readonly inner: DatabaseConnection,
    private readonly counters: StorageCounters,
  ) {}

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    this.counters.countStatement(query.sql);
    return this.inner.executeQuery<R>(query);
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    this.counters.countStatement(query.sql);
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

const inner = (connection: DatabaseConnection) =>
  connection instanceof CountingConnection ? connection.inner : connection;

/** The dialect's driver, counting statements and transaction control (BEGIN, COMMIT, ROLLBACK, savepoints). */
class CountingDriver implements Driver {
  constructor(
    private readonly driver: Driver,
    private readonly counters: StorageCounters,
  ) {}

  init(): Promise<void> {
    return this.driver.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    return new CountingConnection(await this.driver.acquireConnection(), this.counters);
  }
  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.driver.releaseConnection(inner(connection));
  }
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    this.counters.countStatement('begin');
    return this.driver.beginTransaction(inner(connection), settings);
  }
  commitTransaction(connection: DatabaseConnection): Promise<void> {
    this.counters.countStatement('commit');
    return this.driver.commitTransaction(inner(connection));
  }
  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    this.counters.countStatement('rollback');
    return this.driver.rollbackTransaction(inner(connection));
  }
  async savepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    if (!this.driver.savepoint) throw new Error('this database driver has no savepoints');
    this.counters.countStatement(`savepoint ${name}`);
    await this.driver.savepoint(inner(connection), name, compile);
  }
  async rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    if (!this.driver.rollbackToSavepoint) throw new Error('this database driver has no savepoints');
    this.counters.countStatement(`rollback to savepoint ${name}`);
    await this.driver.rollbackToSavepoint(inner(connection), name, compile);
  }
  async releaseSavepoint(connection: DatabaseConnection, name: string, compile: QueryCompiler['compileQuery']) {
    if (!this.driver.releaseSavepoint) throw new Error('this database driver has no savepoints');
    this.counters.countStatement(`release savepoint ${name}`);
    await this.driver.releaseSavepoint(inner(connection), name, compile);
  }
  destroy(): Promise<void> {
    return this.driver.destroy();
  }
}

/** The same dialect, with every statement it sends counted in `counters`. */
export function countingDialect(dialect: Dialect, counters: StorageCounters): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new CountingDriver(dialect.createDriver(), counters),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
  };
}
