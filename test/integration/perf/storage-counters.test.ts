import { sql } from 'kysely';
import { Redis } from 'ioredis';
import { openDatabase } from '../../../src/db/database.js';
import { StorageCounters } from '../../../src/observability/storage-counters.js';
import { countRedisCommands } from '../../../src/redis/counting.js';
import { createScratchDatabase, scratchRedis, STORAGE_KINDS } from '../../helpers/databases.js';
import { EMBEDDED, TEST_REDIS_URL } from '../../helpers/env.js';

/** The instrumentation the benchmark and the round-trip budget tests rely on counts what really leaves. */
describe('storage counters', () => {
  it.each(STORAGE_KINDS)('count every statement sent to %s, transaction control included', async (kind) => {
    const counters = new StorageCounters();
    const scratch = kind === 'postgres' ? await createScratchDatabase() : undefined;
    const handle = await openDatabase({ databaseUrl: scratch?.url, dataDir: 'memory://', counters });
    try {
      const { counts, log } = await counters.measure(async () => {
        await sql`select 1`.execute(handle.db);
        await handle.db.transaction().execute(async (trx) => {
          await sql`select 2`.execute(trx);
        });
      });
      expect(counts.dbStatements).toBe(4);
      expect(log).toEqual(['sql: select 1', 'sql: begin', 'sql: select 2', 'sql: commit']);
      await expect(
        handle.db.transaction().execute(async (trx) => {
          await sql`select 3`.execute(trx);
          throw new Error('undo');
        }),
      ).rejects.toThrow('undo');
      expect(counters.dbStatements).toBe(7); // begin, select 3, rollback
    } finally {
      await handle.close();
      await scratch?.drop();
    }
  });

  (EMBEDDED ? it.skip : it)('count Redis commands, and a pipeline or MULTI block as one round trip', async () => {
    const scratch = scratchRedis();
    const counters = new StorageCounters();
    const redis = countRedisCommands(new Redis(TEST_REDIS_URL, { lazyConnect: true }), counters);
    try {
      await redis.connect();
      // The connection's own handshake (ready check, client name) is counted too, before this test's commands.
      counters.redisCommands = counters.redisRoundTrips = 0;
      const key = `${scratch.prefix}k`;
      await redis.set(key, '1');
      await redis.get(key);
      expect(counters.snapshot()).toEqual({ dbStatements: 0, redisCommands: 2, redisRoundTrips: 2 });
      await redis.pipeline().incr(key).incr(key).incr(key).exec();
      expect(counters.snapshot()).toMatchObject({ redisCommands: 5, redisRoundTrips: 3 });
      await redis.multi().incr(key).del(key).exec();
      // MULTI, INCR, DEL, EXEC in one write.
      expect(counters.snapshot()).toMatchObject({ redisCommands: 9, redisRoundTrips: 4 });
      const { log } = await counters.measure(() => redis.get(key));
      expect(log).toEqual([`redis: get ${key}`]);
    } finally {
      redis.disconnect();
      await scratch.close();
    }
  });
});
