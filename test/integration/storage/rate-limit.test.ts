import { randomBytes } from 'node:crypto';
import { blockedFor, createLimiter, type LimiterStore } from '../../../src/security/rate-limit/limiters.js';
import { openScratchStorage, scratchRedis } from '../../helpers/databases.js';
import { EMBEDDED } from '../../helpers/env.js';

async function redisStore(): Promise<{ store: LimiterStore; close(): Promise<void> }> {
  const scratch = scratchRedis();
  return { store: { kind: 'redis', redis: scratch.redis, prefix: scratch.prefix }, close: scratch.close };
}

async function dbStore(kind: 'postgres' | 'pglite'): Promise<{ store: LimiterStore; close(): Promise<void> }> {
  const storage = await openScratchStorage(kind);
  return { store: { kind: 'db', db: storage.handle.db }, close: storage.close };
}

const stores: [string, () => Promise<{ store: LimiterStore; close(): Promise<void> }>][] = EMBEDDED
  ? [['database (PGlite)', () => dbStore('pglite')]]
  : [['Redis', redisStore], ['database (PostgreSQL)', () => dbStore('postgres')], ['database (PGlite)', () => dbStore('pglite')]];

const key = () => randomBytes(8).toString('hex');

describe.each(stores)('rate limit counters (X2): %s', (_name, open) => {
  let opened: Awaited<ReturnType<typeof redisStore>>;
  beforeAll(async () => { opened = await open(); });
  afterAll(async () => { await opened?.close(); });

  it('allows the configured number of attempts, then blocks until the window closes', async () => {
    const limiter = createLimiter(opened.store, `t-${key()}`, { points: 3, durationSeconds: 2 });
    const k = key();
    for (let i = 0; i < 3; i += 1) await limiter.consume(k);
    await expect(limiter.consume(k)).rejects.toMatchObject({ remainingPoints: 0 });
    expect(await blockedFor(limiter, k)).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect(await blockedFor(limiter, k)).toBe(0);
    await expect(limiter.consume(k)).resolves.toMatchObject({ consumedPoints: 1 });
  });

  it('counts parallel attempts exactly: of 20 at once with 5 points, 5 pass', async () => {
    const limiter = createLimiter(opened.store, `t-${key()}`, { points: 5, durationSeconds: 60 });
    const k = key();
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => limiter.consume(k)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(5);
  });

  it('keeps keys apart and forgets a key on delete', async () => {
    const limiter = createLimiter(opened.store, `t-${key()}`, { points: 1, durationSeconds: 60 });
    const [a, b] = [key(), key()];
    await limiter.penalty(a);
    expect(await blockedFor(limiter, a)).toBeGreaterThan(0);
    expect(await blockedFor(limiter, b)).toBe(0);
    await limiter.delete(a);
    expect(await blockedFor(limiter, a)).toBe(0);
  });
});
