import { createHash } from 'node:crypto';
import type { RedisClient } from '../../redis/client.js';
import { RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Db } from '../../db/database.js';
import { AppError } from '../../errors.js';
import { RateLimiterKysely } from './kysely-store.js';

export interface Limit {
  points: number;
  durationSeconds: number;
}

/** Where counters live: Redis in production, the database otherwise. Both are shared by all processes. */
export type LimiterStore = { kind: 'redis'; redis: RedisClient; prefix: string } | { kind: 'db'; db: Db };

export function createLimiter(store: LimiterStore, name: string, limit: Limit): RateLimiterAbstract {
  const options = { keyPrefix: `rl:${name}`, points: limit.points, duration: limit.durationSeconds };
  if (store.kind === 'redis') {
    return new RateLimiterRedis({
      ...options,
      keyPrefix: `${store.prefix}${options.keyPrefix}`,
      storeClient: store.redis,
    });
  }
  return new RateLimiterKysely({ ...options, db: store.db });
}

/** Keys carry no personal data: addresses are hashed before they name a counter. */
export function limiterKey(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('base64url');
}

/** Counts one attempt; when the counter is used up, TOO_MANY_ATTEMPTS says how long to wait. */
export async function consumeOrRefuse(limiter: RateLimiterAbstract, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (res) {
    if (res instanceof Error) throw res;
    const ms = (res as { msBeforeNext?: number }).msBeforeNext ?? 60_000;
    throw new AppError('TOO_MANY_ATTEMPTS', { minutes: Math.max(1, Math.ceil(ms / 60_000)) });
  }
}
