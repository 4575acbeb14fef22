/** Where the real services are: the machine's PostgreSQL and Redis (see README, CI). */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** A 32-byte secret for tests (base64). */
export const TEST_SECRET = Buffer.alloc(32, 7).toString('base64');
/** With MONBAN_TEST_EMBEDDED=1 the storage suites run on PGlite and the Kysely store instead. */
export const EMBEDDED = process.env.MONBAN_TEST_EMBEDDED === '1';
/** With MONBAN_TEST_REDIS_CLUSTER=1 every test app runs on a Redis Cluster of its own (three masters). */
export const REDIS_CLUSTER = process.env.MONBAN_TEST_REDIS_CLUSTER === '1';
