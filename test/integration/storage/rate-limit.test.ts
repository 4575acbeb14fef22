import { randomBytes } from 'node:crypto';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { attemptCounters, type AttemptCounters } from '../../../src/security/rate-limit/attempt-counters.js';
import { createLimiter, type LimiterStore } from '../../../src/security/rate-limit/limiters.js';
import { openScratchStorage, scratchRedis } from '../../helpers/databases.js';
import { EMBEDDED } from '../../helpers/env.js';

function redisStore(): Promise<{ store: LimiterStore; close(): Promise<void> }> {
  const scratch = scratchRedis();
  return Promise.resolve({
    store: { kind: 'redis', redis: scratch.redis, prefix: scratch.prefix },
    close: () => scratch.close(),
  });
}

async function dbStore(kind: 'postgres' | 'pglite'): Promise<{ store: LimiterStore; close(): Promise<void> }> {
  const storage = await openScratchStorage(kind);
  return { store: { kind: 'db', db: storage.handle.db }, close: () => storage.close() };
}

const stores: [string, () => Promise<{ store: LimiterStore; close(): Promise<void> }>][] = EMBEDDED
  ? [['database (PGlite)', () => dbStore('pglite')]]
  : [
      ['Redis', redisStore],
      ['database (PostgreSQL)', () => dbStore('postgres')],
      ['database (PGlite)', () => dbStore('pglite')],
    ];

const key = () => randomBytes(8).toString('hex');

/** Milliseconds until a used-up counter frees up; 0 when it has points left (or never was used). */
async function blockedFor(limiter: RateLimiterAbstract, k: string): Promise<number> {
  const res = await limiter.get(k);
  if (!res || res.consumedPoints < limiter.points) return 0;
  return Math.max(res.msBeforeNext, 1000);
}

describe.each(stores)('rate limit counters (X2): %s', (_name, open) => {
  let opened: Awaited<ReturnType<typeof redisStore>>;
  beforeAll(async () => {
    opened = await open();
  });
  afterAll(async () => {
    await opened?.close();
  });

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

describe.each(stores)('attempt counters, counted before the check (issue 11): %s', (_name, open) => {
  let opened: Awaited<ReturnType<typeof redisStore>>;
  let counters: AttemptCounters;
  beforeAll(async () => {
    opened = await open();
    counters = attemptCounters(opened.store);
  });
  afterAll(async () => {
    await opened?.close();
  });

  const counter = (limit: number, windowMs = 60_000) => ({ key: `t:{${key()}}:${key()}`, limit, windowMs });

  it('counts an attempt on every counter of a group, or on none when one is used up', async () => {
    const tight = counter(2);
    const loose = counter(10);
    expect(await counters.consume([tight, loose])).toEqual({ allowed: true, counts: [1, 1] });
    expect(await counters.consume([tight, loose])).toEqual({ allowed: true, counts: [2, 2] });
    const refused = await counters.consume([tight, loose]);
    expect(refused).toMatchObject({ allowed: false, refusedBy: 0 });
    expect(refused.allowed || refused.msBeforeNext).toBeGreaterThan(50_000);
    // The refused attempt was not counted on the other counter.
    expect(await counters.consume([loose])).toEqual({ allowed: true, counts: [3] });
  });

  it('lets exactly the limit through when 50 attempts come at once', async () => {
    const tight = counter(5);
    const loose = counter(1000);
    const results = await Promise.all(Array.from({ length: 50 }, () => counters.consume([loose, tight])));
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    expect(results.filter((r) => !r.allowed).every((r) => !r.allowed && r.refusedBy === 1)).toBe(true);
    expect(await counters.consume([loose])).toEqual({ allowed: true, counts: [6] });
  });

  it('starts a counter again once its window has closed', async () => {
    const brief = counter(1, 1000);
    expect((await counters.consume([brief])).allowed).toBe(true);
    expect((await counters.consume([brief])).allowed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await counters.consume([brief])).toEqual({ allowed: true, counts: [1] });
  });

  it('counts groups in turn: a refused group ends the attempt, and the groups before it stay counted', async () => {
    const shared = counter(10);
    const tight = counter(1);
    const other = counter(10);
    expect(await counters.consumeInTurn([[shared], [tight, other]])).toEqual({ allowed: true, counts: [[1], [1, 1]] });
    const refused = await counters.consumeInTurn([[shared], [other, tight]]);
    expect(refused).toMatchObject({ allowed: false, group: 1, refusedBy: 1 });
    expect(refused.allowed || refused.msBeforeNext).toBeGreaterThan(50_000);
    // The first group was counted, the refused one was not (on any of its counters).
    expect(await counters.consume([shared, other])).toEqual({ allowed: true, counts: [3, 2] });
    const first = counter(1);
    await counters.consume([first]);
    expect(await counters.consumeInTurn([[first], [other]])).toMatchObject({ allowed: false, group: 0, refusedBy: 0 });
    expect(await counters.consume([other])).toEqual({ allowed: true, counts: [3] });
  });

  it('counts groups in turn exactly when 50 attempts come at once', async () => {
    const shared = counter(1000);
    const tight = counter(5);
    const results = await Promise.all(Array.from({ length: 50 }, () => counters.consumeInTurn([[shared], [tight]])));
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    expect(results.every((r) => r.allowed || (r.group === 1 && r.refusedBy === 0))).toBe(true);
    expect(await counters.consume([shared])).toEqual({ allowed: true, counts: [51] });
  });

  it('gives back several at once, each as named', async () => {
    const a = counter(10);
    const b = counter(10);
    for (let i = 0; i < 3; i += 1) await counters.consumeInTurn([[a], [b]]);
    await counters.giveBack({ reset: [], refund: [a.key] }, { reset: [b.key], refund: [] });
    expect(await counters.consume([a, b])).toEqual({ allowed: true, counts: [3, 1] });
  });

  it('gives back: a reset counter starts from zero, a refunded one loses one attempt, never below zero', async () => {
    const reset = counter(10);
    const refund = counter(10);
    const untouched = counter(10);
    for (let i = 0; i < 3; i += 1) await counters.consume([reset, refund]);
    await counters.giveBack({ reset: [reset.key], refund: [refund.key, untouched.key] });
    expect(await counters.consume([reset, refund, untouched])).toEqual({ allowed: true, counts: [1, 3, 1] });
  });
});
