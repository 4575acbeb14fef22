import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { Redis } from 'ioredis';
import { openDatabase, type DatabaseHandle } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { migratedDump } from './pglite-dump.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './env.js';

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function admin<T>(work: (db: Kysely<unknown>) => Promise<T>): Promise<T> {
  const db = new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 }) }),
  });
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}

/** A fresh, empty database on the real PostgreSQL server, so test files never see each other's rows. */
export async function createScratchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `monban_t_${randomBytes(6).toString('hex')}`;
  await admin((db) => sql`create database ${sql.id(name)}`.execute(db));
  return {
    url: withDatabase(TEST_DATABASE_URL, name),
    drop: () =>
      admin((db) => sql`drop database if exists ${sql.id(name)} with (force)`.execute(db)).then(() => undefined),
  };
}

export type StorageKind = 'postgres' | 'pglite';

/** A migrated database of the given kind; PGlite runs in memory. */
export async function openScratchStorage(
  kind: StorageKind,
): Promise<{ handle: DatabaseHandle; close(): Promise<void> }> {
  if (kind === 'pglite') {
    const handle = await openDatabase({ dataDir: 'memory://', memoryDump: await migratedDump() });
    await migrateToLatest(handle.db);
    return { handle, close: () => handle.close() };
  }
  const scratch = await createScratchDatabase();
  const handle = await openDatabase({ databaseUrl: scratch.url, dataDir: 'memory://', poolSize: 4 });
  await migrateToLatest(handle.db);
  return {
    handle,
    close: async () => {
      await handle.close();
      await scratch.drop();
    },
  };
}

/** A Redis connection whose keys live under a prefix of their own, removed on close. */
export function scratchRedis(): { redis: Redis; prefix: string; close(): Promise<void> } {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 2 });
  const prefix = `monban-test:${randomBytes(6).toString('hex')}:`;
  return {
    redis,
    prefix,
    async close() {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    },
  };
}
