import type { RedisClient } from '../../redis/client.js';
import { addScripts, LuaScript } from '../../redis/lua-script.js';
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

/** consumeInTurn's answer: the counts of each group, or which group and which of its counters refused. */
export type ConsumedInTurn =
  | { allowed: true; /** Each group's counts, as consume gives them. */ counts: number[][] }
  | {
      allowed: false;
      /** The refused group: the groups before it were counted. */ group: number;
      refusedBy: number;
      msBeforeNext: number;
    };

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
  /**
   * Consumes the groups one after the other, each as `consume` does, and stops at the first one
   * refused: the groups before it stay counted. Groups may live in different hash slots; on one
   * Redis server they all go in one script.
   */
  consumeInTurn(groups: Counter[][]): Promise<ConsumedInTurn>;
  /** Gives back what each `GiveBack` names (each within one hash slot); in one step where the store allows. */
  giveBack(...backs: GiveBack[]): Promise<void>;
}

// KEYS: the counters of one or more groups, group after group; ARGV: the number of groups, the
// size of each, then limit and window (ms) of each counter in turn. A group is counted only when
// none of its counters is used up; the groups are counted in turn, and the first refused one ends
// the script (the groups before it stay counted). Returns {0, count...} when every group was
// counted, {index, ms until the window closes} when a counter was used up.
const CONSUME_SCRIPT = `
local groups = tonumber(ARGV[1])
local base = 1 + groups
local first = 1
local result = {0}
for g = 1, groups do
  local last = first + tonumber(ARGV[1 + g]) - 1
  for i = first, last do
    local count = tonumber(redis.call('GET', KEYS[i]) or '0')
    if count >= tonumber(ARGV[base + 2 * i - 1]) then
      return {i, redis.call('PTTL', KEYS[i])}
    end
  end
  for i = first, last do
    local count = redis.call('INCR', KEYS[i])
    if count == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[base + 2 * i]) end
    result[#result + 1] = count
  end
  first = last + 1
end
return result
`;

// keys: the counters; args[i]: 'reset' (delete) or 'refund' (one less, never below zero). A
// counter back at zero is deleted: the next attempt starts a new window either way (count 1 sets
// the expiry), and a successful login leaves no counter behind in Redis. A function, so that the
// script in which a page's held writes go (src/oidc/adapters) can take a give-back along.
export const GIVE_BACK_FUNCTION = `
local function giveBack(keys, args)
  for i = 1, #keys do
    if args[i] == 'reset' then
      redis.call('DEL', keys[i])
    elseif tonumber(redis.call('GET', keys[i]) or '0') > 0 then
      if redis.call('DECR', keys[i]) <= 0 then redis.call('DEL', keys[i]) end
    end
  end
end
`;

const GIVE_BACK_SCRIPT = `${GIVE_BACK_FUNCTION}
giveBack(KEYS, ARGV)
return 0
`;

const COUNTER_SCRIPTS = {
  monbanConsumeAttempts: new LuaScript(CONSUME_SCRIPT),
  monbanGiveBackAttempts: new LuaScript(GIVE_BACK_SCRIPT),
};

/**
 * Takes a give-back (whole keys, one 'reset' or 'refund' per key, and how to send it alone) to
 * send later with other writes, and answers true; false when it cannot, and the caller sends it.
 */
export type HoldGiveBack = (keys: string[], args: string[], alone: () => Promise<void>) => boolean;

export interface AttemptCounterOptions {
  /**
   * On one Redis server, where a give-back may wait for other writes of the same request (a
   * page's, sent as one script when its answer is ready). Only for counters that the request
   * does not count again after giving back: a held give-back is not seen by a later consume.
   */
  holdGiveBack?: HoldGiveBack;
}

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

/** Splits consumeInTurn's flat answer (counters numbered across all groups) by group. */
function inTurn(flat: Consumed, groups: Counter[][]): ConsumedInTurn {
  let start = 0;
  if (flat.allowed) {
    return {
      allowed: true,
      counts: groups.map((group) => flat.counts.slice(start, (start += group.length))),
    };
  }
  const group = groups.findIndex((g) => flat.refusedBy < (start += g.length));
  return {
    allowed: false,
    group,
    refusedBy: flat.refusedBy - (start - (groups[group]?.length ?? 0)),
    msBeforeNext: flat.msBeforeNext,
  };
}

/** One group after the other, for stores that count one group per step. */
async function groupByGroup(consume: (group: Counter[]) => Promise<Consumed>, groups: Counter[][]) {
  const counts: number[][] = [];
  for (const [index, group] of groups.entries()) {
    const result = await consume(group);
    if (!result.allowed) return { ...result, group: index } satisfies ConsumedInTurn;
    counts.push(result.counts);
  }
  return { allowed: true, counts } satisfies ConsumedInTurn;
}

/** All keys of several give-backs, as one. */
function merged(backs: GiveBack[]): GiveBack {
  return { reset: backs.flatMap((b) => b.reset), refund: backs.flatMap((b) => b.refund) };
}

/** The scripts, as methods of the client (lua-script.ts). */
interface ScriptedRedis {
  monbanConsumeAttempts(...args: (string | number)[]): Promise<number[]>;
  monbanGiveBackAttempts(...args: (string | number)[]): Promise<number>;
}

/**
 * One EVALSHA per call (ioredis sends the script itself once, when Redis does not know it yet).
 * A script may only touch keys of one hash slot on a Redis Cluster: there, groups and give-backs
 * in different slots take one script each; on one server, one script takes them all.
 */
class RedisAttemptCounters implements AttemptCounters {
  readonly #redis: ScriptedRedis;
  readonly #cluster: boolean;

  constructor(
    redis: RedisClient,
    private readonly prefix: string,
    private readonly options: AttemptCounterOptions = {},
  ) {
    this.#redis = addScripts<ScriptedRedis>(redis, COUNTER_SCRIPTS);
    this.#cluster = redis.isCluster;
  }

  consume(group: Counter[]): Promise<Consumed> {
    return this.#consumeGroups([group]);
  }

  async consumeInTurn(groups: Counter[][]): Promise<ConsumedInTurn> {
    if (this.#cluster) return groupByGroup((group) => this.consume(group), groups);
    return inTurn(await this.#consumeGroups(groups), groups);
  }

  async #consumeGroups(groups: Counter[][]): Promise<Consumed> {
    const all = groups.flat();
    const reply = await this.#redis.monbanConsumeAttempts(
      all.length,
      ...all.map((c) => this.prefix + c.key),
      groups.length,
      ...groups.map((g) => g.length),
      ...all.flatMap((c) => [c.limit, c.windowMs]),
    );
    return consumed(
      reply,
      all.map((c) => c.windowMs),
    );
  }

  async giveBack(...backs: GiveBack[]): Promise<void> {
    if (this.#cluster) await Promise.all(backs.map((back) => this.#giveBack(back)));
    else await this.#giveBack(merged(backs));
  }

  async #giveBack(back: GiveBack): Promise<void> {
    if (back.reset.length + back.refund.length === 0) return;
    const keys = [...back.reset, ...back.refund].map((key) => this.prefix + key);
    const args = [...back.reset.map(() => 'reset'), ...back.refund.map(() => 'refund')];
    const alone = async () => {
      await this.#redis.monbanGiveBackAttempts(keys.length, ...keys, ...args);
    };
    if (this.#cluster || !this.options.holdGiveBack?.(keys, args, alone)) await alone();
  }
}

/** One call of the monban_consume_attempts function (db/migrations) per group, one UPDATE to give back. */
class KyselyAttemptCounters implements AttemptCounters {
  constructor(private readonly db: Db) {}

  consumeInTurn(groups: Counter[][]): Promise<ConsumedInTurn> {
    return groupByGroup((group) => this.consume(group), groups);
  }

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

  async giveBack(...backs: GiveBack[]): Promise<void> {
    const back = merged(backs);
    const keys = [...back.reset, ...back.refund];
    if (keys.length === 0) return;
    await sql`
      update rate_limits set points = case when key = any(${back.reset}::text[]) then 0 else greatest(points - 1, 0) end
      where key = any(${keys}::text[])`.execute(this.db);
  }
}

export function attemptCounters(store: LimiterStore, options?: AttemptCounterOptions): AttemptCounters {
  return store.kind === 'redis'
    ? new RedisAttemptCounters(store.redis, store.prefix, options)
    : new KyselyAttemptCounters(store.db);
}
