import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, type Dialect } from 'kysely';
import pg from 'pg';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { DatabaseInUseError, lockDataDir } from './data-dir-lock.js';
import type { Logger } from '../logger.js';
import { embeddedDatabaseFailedStarts, embeddedDatabaseStops } from '../observability/metrics.js';
import type { StorageCounters } from '../observability/storage-counters.js';
import { countingDialect } from './counting-dialect.js';
import { PgListener, type NotificationHandler } from './listener.js';
import { startPGliteThread, type PGliteThread } from './pglite-thread.js';
import { preparingPool } from './prepared-statements.js';
import { restartingThread, type ThreadRestarts } from './restarting-thread.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  db: Db;
  /** 'postgres' for a server reached over DATABASE_URL, 'pglite' for the embedded default. */
  kind: 'postgres' | 'pglite';
  /**
   * Calls `handler` with the payload of every NOTIFY on `channel` (sent with pg_notify, also
   * from other processes), and with undefined when some may have been missed (a reconnection).
   */
  listen(channel: string, handler: NotificationHandler): Promise<void>;
  /** The pg pool's connections (metrics); undefined on the embedded database. */
  poolStats(): { total: number; idle: number; waiting: number } | undefined;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  /** Embedded default: PGlite keeps its files in <dataDir>/pglite. 'memory://' keeps nothing. */
  dataDir: string;
  poolSize?: number;
  /** Name repeated statements so PostgreSQL parses and plans them once per connection (prepared-statements.ts). */
  preparedStatements?: boolean;
  /** Counts every statement sent (the benchmark and the round-trip budget tests read it). */
  counters?: StorageCounters;
  /**
   * PGlite in memory only: start from this dump of a data directory (PGlite's dumpDataDir)
   * rather than an empty database, which PGlite must first initialise (seconds of CPU). Tests
   * start each app from one migrated dump.
   */
  memoryDump?: Blob | undefined;
  /** Where the embedded database's restarts are reported. */
  logger?: Pick<Logger, 'error' | 'info'> | undefined;
}

/** The embedded database's thread stopping and starting again, for the operator. */
export function reportRestarts(logger: DatabaseOptions['logger']): ThreadRestarts {
  return {
    stopped: (err, retryInMs) => {
      embeddedDatabaseStops.inc();
      if (retryInMs === undefined) logger?.error({ err }, 'the embedded database stopped; starting it again');
      else
        logger?.error(
          { err, retryInMs },
          'the embedded database stopped soon after it started; statements fail until it starts again',
        );
    },
    restarted: () => logger?.info('the embedded database started again'),
    failed: (err, retryInMs) => {
      embeddedDatabaseFailedStarts.inc();
      logger?.error(
        { err, retryInMs },
        'the embedded database could not be started again; statements fail until it is',
      );
    },
  };
}

export { DatabaseInUseError };

/** Kysely over pg when a URL is given, otherwise over PGlite: the same SQL either way. */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  let dialect: Dialect;
  let kind: DatabaseHandle['kind'];
  let unlock: (() => Promise<void>) | undefined;
  let listen: DatabaseHandle['listen'];
  let stopListening = () => Promise.resolve();
  let poolStats: DatabaseHandle['poolStats'] = () => undefined;
  if (options.databaseUrl) {
    kind = 'postgres';
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? 10 });
    // An idle connection the server drops (restart, failover, admin kill) is an 'error' on the
    // pool; unhandled, it would crash the process. pg-pool has already discarded that client and
    // the next query opens a new one, so there is nothing more to do here.
    pool.on('error', () => {});
    // A client checked out when the server goes away emits 'error' on itself, not on the pool;
    // unhandled, that crashes the process on a database blip. Its query is rejected anyway, and
    // pg-pool discards the client (no longer queryable) when it is released.
    pool.on('connect', (client) => client.on('error', () => {}));
    poolStats = () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount });
    dialect = new PostgresDialect({ pool: options.preparedStatements === false ? pool : preparingPool(pool) });
    const listener = new PgListener(options.databaseUrl, () => undefined);
    listen = (channel, handler) => listener.listen(channel, handler);
    stopListening = () => listener.close();
  } else {
    kind = 'pglite';
    let location = 'memory://';
    if (options.dataDir !== 'memory://') {
      location = path.resolve(options.dataDir, 'pglite');
      mkdirSync(location, { recursive: true });
      unlock = await lockDataDir(location);
    }
    const dump = location === 'memory://' ? options.memoryDump : undefined;
    const start = () => startPGliteThread(location, dump);
    let pglite: PGliteThread;
    try {
      pglite = await start();
    } catch (err) {
      await unlock?.();
      throw err;
    }
    // In memory, with nothing kept, only a dump (the tests') gives a restart a schema to come back
    // to; without one the database stays stopped.
    if (location !== 'memory://' || dump) pglite = restartingThread(pglite, start, reportRestarts(options.logger));
    // The dialect asks only for query() and close(), which the thread answers.
    dialect = new PGliteDialect(pglite as unknown as ConstructorParameters<typeof PGliteDialect>[0]);
    // PGlite is this process: a NOTIFY reaches its listeners at commit, and none is missed unless
    // the thread dies (restarting-thread.ts then tells them so).
    listen = (channel, handler) => pglite.listen(channel, handler);
  }
  const db = new Kysely<Database>({
    dialect: options.counters ? countingDialect(dialect, options.counters) : dialect,
  });
  return {
    db,
    kind,
    listen,
    poolStats,
    async close() {
      await stopListening();
      await db.destroy();
      await unlock?.();
    },
  };
}
