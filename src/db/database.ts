import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, type Dialect } from 'kysely';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDialect } from 'kysely-pglite-dialect';
import lockfile from 'proper-lockfile';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  db: Db;
  /** 'postgres' for a server reached over DATABASE_URL, 'pglite' for the embedded default. */
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  /** Embedded default: PGlite keeps its files in <dataDir>/pglite. 'memory://' keeps nothing. */
  dataDir: string;
  poolSize?: number;
}

/** Kysely over pg when a URL is given, otherwise over PGlite: the same SQL either way. */
export class DatabaseInUseError extends Error {
  override name = 'DatabaseInUseError';
}

/**
 * PGlite is PostgreSQL in one process: two processes on the same files would corrupt them. A
 * lock (refreshed while we run, stale after a crash) makes the second one stop with a message.
 */
async function lockDataDir(location: string): Promise<() => Promise<void>> {
  try {
    return await lockfile.lock(location, { stale: 15_000, update: 5_000, retries: 0 });
  } catch (err) {
    if ((err as { code?: string }).code !== 'ELOCKED') throw err;
    throw new DatabaseInUseError(
      `the embedded database in ${location} is in use by another Monban process. ` +
      'Stop that process first, or set DATABASE_URL to share a PostgreSQL server between processes.',
    );
  }
}

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  let dialect: Dialect;
  let kind: DatabaseHandle['kind'];
  let unlock: (() => Promise<void>) | undefined;
  if (options.databaseUrl) {
    kind = 'postgres';
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? 10 });
    // An idle connection the server drops (restart, failover, admin kill) is an 'error' on the
    // pool; unhandled, it would crash the process. pg-pool has already discarded that client and
    // the next query opens a new one, so there is nothing more to do here.
    pool.on('error', () => {});
    dialect = new PostgresDialect({ pool });
  } else {
    kind = 'pglite';
    let location = 'memory://';
    if (options.dataDir !== 'memory://') {
      location = path.resolve(options.dataDir, 'pglite');
      mkdirSync(location, { recursive: true });
      unlock = await lockDataDir(location);
    }
    try {
      dialect = new PGliteDialect(await PGlite.create(location));
    } catch (err) {
      await unlock?.();
      throw err;
    }
  }
  const db = new Kysely<Database>({ dialect });
  return {
    db,
    kind,
    async close() {
      await db.destroy();
      await unlock?.();
    },
  };
}
