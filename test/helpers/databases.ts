import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { Redis } from 'ioredis';
import { openDatabase, type Db, type DatabaseHandle } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { migratedDump } from './pglite-dump.js';
import { EMBEDDED, TEST_DATABASE_URL, TEST_REDIS_URL } from './env.js';

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

/** The kinds a suite of both runs on: PGlite alone in the embedded repeat (MONBAN_TEST_EMBEDDED). */
export const STORAGE_KINDS: StorageKind[] = EMBEDDED ? ['pglite'] : ['postgres', 'pglite'];

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

/** A migrated scratch database of `kind` for the enclosing describe block: opened before its tests, closed after. */
export function scratchStorageForSuite(kind: StorageKind): { readonly db: Db } {
  let storage: Awaited<ReturnType<typeof openScratchStorage>> | undefined;
  beforeAll(async () => {
    storage = await openScratchStorage(kind);
  });
  afterAll(async () => {
    await storage?.close();
  });
  return {
    get db() {
      if (!storage) throw new Error('the scratch database is opened in beforeAll');
      return storage.handle.db;
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

/** An account row written straight to the database (no sign-up), with a random username and address. */
export async function newAccountRow(db: Db): Promise<{ id: string; email: string }> {
  return db
    .insertInto('accounts')
    .values({
      username: `MB${randomBytes(4).toString('hex').toUpperCase()}`,
      email: `${randomBytes(4).toString('hex')}@example.com`,
      given_name: 'Hanako',
      family_name: 'Yamada',
      locale: 'ja',
      updated_at: new Date(),
    })
    .returning(['id', 'email'])
    .executeTakeFirstOrThrow();
}

/**
 * Whether a value read from the database is a valid timestamp. On the embedded default rows come
 * from PGlite's own thread (src/db/pglite-thread.ts), and their Dates are made in Node's main
 * context, not in the one Jest runs the test file in: `toBeInstanceOf(Date)` cannot tell.
 */
export function isTimestamp(value: unknown): boolean {
  return Object.prototype.toString.call(value) === '[object Date]' && !Number.isNaN((value as Date).getTime());
}
