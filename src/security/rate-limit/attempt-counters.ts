import type { RedisClient } from '../../redis/client.js';
import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { LimiterStore } from './limiters.js';

/** A fixed-window counter: at most `limit` attempts per `windowMs`. */
export interface Counter {
  key: string;
  limit: number;
  windowMs: number;
}

export type Consumed =
  | { allowed: true; /** Each counter's count, this attempt included, in the order given. */ counts: number[] }
  | { allowed: false; /** The index of a used-up counter. */ refusedBy: number; msBeforeNext: number };

/** What to give back after an attempt succeeded: `reset` counters go to zero, `refund` ones lose one. */
export interface GiveBack {
  reset: string[];
  refund: string[];
}

/**
 * Counters whose attempts are counted before the thing they guard is tried (OWASP ASVS 2.2.1;
 * CVE-2024-4629 is what happens otherwise): one attempt is added to every counter of a group only
 * if none of them is used up, in one atomic step, so parallel requests cannot get past a limit.
 * A group's counters must share a Redis Cluster hash slot (a `{tag}` in their keys).
 */
export interface AttemptCounters {
  consume(group: Counter[]): Promise<Consumed>;
  giveBack(back: GiveBack): Promise<void>;
}

// KEYS: the counters; ARGV: limit and window (ms) of each in turn. Returns {0, count...} when the
// attempt was counted, {index, ms until the window closes} when a counter was used up.
const CONSUME_SCRIPT = `
for i = 1, #KEYS do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= tonumber(ARGV[2 * i - 1]) then
    return {i, redis.call('PTTL', KEYS[i])}
  end
end
local result = {0}
for i = 1, #KEYS do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[2 * i]) end
  result[#result + 1] = count
end
return result
`;

// KEYS: the counters; ARGV[i]: 'reset' (delete) or 'refund' (one less, never below zero).
const GIVE_BACK_SCRIPT = `
for i = 1, #KEYS do
  if ARGV[i] == 'reset' then
    redis.call('DEL', KEYS[i])
  elseif tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then
    redis.call('DECR', KEYS[i])
  end
end
return 0
`;

/** Reads a script's reply: {0, count...} or {refusing counter (1-based), ms until it frees up}. */
function consumed(reply: number[], windows: number[]): Consumed {
  const [first = 0, ...rest] = reply.map(Number);
  if (first === 0) return { allowed: true, counts: rest };
  const ms = rest[0] ?? -1;
  // A counter without an expiry (PTTL -1) cannot come from these scripts; wait a window then.
  return {
    allowed: false,
    refusedBy: first - 1,
    msBeforeNext: Math.max(ms < 0 ? (windows[first - 1] ?? 60_000) : ms, 1000),
  };
}

/** The scripts, as ioredis' defineCommand adds them to the client. */
interface ScriptedRedis {
  monbanConsumeAttempts(...args: (string | number)[]): Promise<number[]>;
  monbanGiveBackAttempts(...args: (string | number)[]): Promise<number>;
}

/** One EVALSHA per group (ioredis sends the script itself once, when Redis does not know it yet). */
class RedisAttemptCounters implements AttemptCounters {
  readonly #redis: ScriptedRedis;

  constructor(
    redis: RedisClient,
    private readonly prefix: string,
  ) {
    if (!('monbanConsumeAttempts' in redis)) {
      redis.defineCommand('monbanConsumeAttempts', { lua: CONSUME_SCRIPT });
      redis.defineCommand('monbanGiveBackAttempts', { lua: GIVE_BACK_SCRIPT });
    }
    this.#redis = redis as unknown as ScriptedRedis;
  }

  async consume(group: Counter[]): Promise<Consumed> {
    const reply = await this.#redis.monbanConsumeAttempts(
      group.length,
      ...group.map((c) => this.prefix + c.key),
      ...group.flatMap((c) => [c.limit, c.windowMs]),
    );
    return consumed(
      reply,
      group.map((c) => c.windowMs),
    );
  }

  async giveBack(back: GiveBack): Promise<void> {
    const keys = [...back.reset, ...back.refund];
    if (keys.length === 0) return;
    await this.#redis.monbanGiveBackAttempts(
      keys.length,
      ...keys.map((key) => this.prefix + key),
      ...back.reset.map(() => 'reset'),
      ...back.refund.map(() => 'refund'),
    );
  }
}

/** One call of the monban_consume_attempts function (db/migrations), one UPDATE to give back. */
class KyselyAttemptCounters implements AttemptCounters {
  constructor(private readonly db: Db) {}

  async consume(group: Counter[]): Promise<Consumed> {
    const { rows } = await sql<{ reply: (string | number)[] }>`
      select monban_consume_attempts(
        ${group.map((c) => c.key)}::text[],
        ${group.map((c) => c.limit)}::integer[],
        ${group.map((c) => c.windowMs)}::bigint[],
        ${Date.now()}::bigint
      ) as reply`.execute(this.db);
    return consumed(
      (rows[0]?.reply ?? []).map(Number),
      group.map((c) => c.windowMs),
    );
  }

  async giveBack(back: GiveBack): Promise<void> {
    const keys = [...back.reset, ...back.refund];
    if (keys.length === 0) return;
    await sql`
      update rate_limits set points = case when key = any(${back.reset}::text[]) then 0 else greatest(points - 1, 0) end
      where key = any(${keys}::text[])`.execute(this.db);
  }
}

export function attemptCounters(store: LimiterStore): AttemptCounters {
  return store.kind === 'redis'
    ? new RedisAttemptCounters(store.redis, store.prefix)
    : new KyselyAttemptCounters(store.db);
}
