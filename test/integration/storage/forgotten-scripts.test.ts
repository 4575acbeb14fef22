import { randomBytes } from 'node:crypto';
import { RedisAdapter } from '../../../src/oidc/adapters/redis-adapter.js';
import { connectRedis, type RedisClient } from '../../../src/redis/client.js';
import { attemptCounters } from '../../../src/security/rate-limit/attempt-counters.js';
import { EMBEDDED } from '../../helpers/env.js';
import { startOwnRedis, type OwnRedis } from '../../helpers/own-redis.js';

/**
 * Monban's Lua scripts go to Redis as EVALSHA. A Redis that has forgotten them (restarted, failed
 * over to a replica that never ran them, or told SCRIPT FLUSH) answers NOSCRIPT: the script is
 * then sent whole, and the session or the attempt is kept as if nothing had happened.
 */
(EMBEDDED ? describe.skip : describe)('Redis without the scripts', () => {
  let redis: OwnRedis;
  let client: RedisClient;
  beforeAll(async () => {
    redis = await startOwnRedis();
    // The app's own client, as it connects in production (auto-pipelining on).
    client = connectRedis({ redisUrl: redis.url })!;
  });
  afterAll(async () => {
    client.disconnect();
    await redis.stop();
  });

  it('still saves, finds and consumes models, and counts attempts, after SCRIPT FLUSH', async () => {
    const sessions = new RedisAdapter(client, 'Session', 'monban-test:');
    const codes = new RedisAdapter(client, 'AuthorizationCode', 'monban-test:');
    const counters = attemptCounters({ kind: 'redis', redis: client, prefix: 'monban-test:' });
    const counter = { key: `ip:{${randomBytes(4).toString('hex')}}`, limit: 3, windowMs: 60_000 };

    const id = randomBytes(8).toString('hex');
    const code = randomBytes(8).toString('hex');
    await sessions.upsert(id, { uid: `u${id}`, accountId: 'a1', exp: Math.floor(Date.now() / 1000) + 60 });
    expect(await counters.consume([counter])).toEqual({ allowed: true, counts: [1] });

    await redis.client.script('FLUSH');

    expect(await sessions.find(id)).toMatchObject({ accountId: 'a1' });
    expect(await sessions.findByUid(`u${id}`)).toMatchObject({ accountId: 'a1' });
    await codes.upsert(code, { grantId: 'g1', exp: Math.floor(Date.now() / 1000) + 60 });
    await codes.consume(code);
    expect(await codes.find(code)).toMatchObject({ grantId: 'g1', consumed: expect.any(Number) });
    expect(await counters.consume([counter])).toEqual({ allowed: true, counts: [2] });
  });
});
