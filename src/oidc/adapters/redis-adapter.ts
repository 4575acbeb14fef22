import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { RedisClient } from '../../redis/client.js';
import { alreadyConsumed } from './errors.js';

/*
 * Each model is one string key holding its JSON payload, prefixed with `<epoch>|` once it is
 * consumed. Every write is one command (a small Lua script where two steps must happen
 * together), and every script touches one key, so it works the same on a Redis Cluster. Keys
 * carry a hash tag: a model's own id, and for a grant its id, which its index of tokens shares
 * (`{grantId}`), so a grant and its index live in one slot. There is no global tag: keys
 * spread over the cluster.
 */

// Saves a payload; a re-save never un-consumes. ARGV: payload, seconds to live (0: none), consumed epoch ('' if not).
const UPSERT = `
local mark = ARGV[3]
local old = redis.call('GET', KEYS[1])
if old and string.byte(old, 1) ~= 123 then mark = string.match(old, '^(%d+)|') or mark end
local value = ARGV[1]
if mark ~= '' then value = mark .. '|' .. value end
if ARGV[2] ~= '0' then return redis.call('SET', KEYS[1], value, 'EX', ARGV[2]) end
return redis.call('SET', KEYS[1], value)
`;

// Marks a model consumed only if it exists and is not consumed yet, in one step.
// Returns 1 when this call consumed it, 0 when it was consumed already, -1 when it is gone.
const CONSUME = `
local value = redis.call('GET', KEYS[1])
if not value then return -1 end
if string.byte(value, 1) ~= 123 then return 0 end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. value, 'KEEPTTL')
return 1
`;

// Adds a key to a grant's index; the index lives as long as its longest member (TTL only extended).
const INDEX = `
redis.call('SADD', KEYS[1], ARGV[1])
if ARGV[2] ~= '0' then
  redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX')
  redis.call('EXPIRE', KEYS[1], ARGV[2], 'GT')
end
return 1
`;

interface AdapterScripts {
  monbanUpsert(key: string, payload: string, ttl: string, consumed: string): Promise<unknown>;
  monbanConsume(key: string, now: string): Promise<number>;
  monbanIndex(key: string, member: string, ttl: string): Promise<unknown>;
}

/** ioredis sends EVALSHA, and the script itself only the first time a server does not know it. */
function withScripts(redis: RedisClient): RedisClient & AdapterScripts {
  if (!('monbanUpsert' in redis)) {
    redis.defineCommand('monbanUpsert', { numberOfKeys: 1, lua: UPSERT });
    redis.defineCommand('monbanConsume', { numberOfKeys: 1, lua: CONSUME });
    redis.defineCommand('monbanIndex', { numberOfKeys: 1, lua: INDEX });
  }
  return redis as RedisClient & AdapterScripts;
}

function parse(stored: string | null): AdapterPayload | undefined {
  if (stored === null) return undefined;
  if (stored.startsWith('{')) return JSON.parse(stored) as AdapterPayload;
  const bar = stored.indexOf('|');
  const payload = JSON.parse(stored.slice(bar + 1)) as AdapterPayload;
  payload.consumed = Number(stored.slice(0, bar));
  return payload;
}

/** oidc-provider models in Redis (or a Redis Cluster), with pointers by interaction uid and device user code. */
export class RedisAdapter implements Adapter {
  readonly #redis: RedisClient & AdapterScripts;

  constructor(
    redis: RedisClient,
    private readonly model: string,
    private readonly prefix: string,
  ) {
    this.#redis = withScripts(redis);
  }

  #key(id: string): string {
    return `${this.prefix}oidc:${this.model}:{${id}}`;
  }

  /** The grant's index of keys: in the slot of the Grant model itself. */
  #grantKey(grantId: string): string {
    return `${this.prefix}oidc:grant:{${grantId}}`;
  }

  #pointerKey(kind: 'uid' | 'userCode', value: string): string {
    return `${this.prefix}oidc:${this.model}:${kind}:{${value}}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const key = this.#key(id);
    const ttl = String(expiresIn ?? 0);
    const consumed = payload.consumed as unknown;
    const stored: Record<string, unknown> = { ...payload };
    delete stored.consumed;
    const writes: Promise<unknown>[] = [
      this.#redis.monbanUpsert(
        key,
        JSON.stringify(stored),
        ttl,
        typeof consumed === 'number' || typeof consumed === 'string' ? String(consumed) : '',
      ),
    ];
    if (payload.grantId) writes.push(this.#redis.monbanIndex(this.#grantKey(payload.grantId), key, ttl));
    for (const [kind, value] of [
      ['uid', payload.uid],
      ['userCode', payload.userCode],
    ] as const) {
      if (!value) continue;
      const pointer = this.#pointerKey(kind, value);
      writes.push(expiresIn ? this.#redis.set(pointer, id, 'EX', expiresIn) : this.#redis.set(pointer, id));
    }
    await Promise.all(writes);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return parse(await this.#redis.get(this.#key(id)));
  }

  async #findByPointer(kind: 'uid' | 'userCode', value: string): Promise<AdapterPayload | undefined> {
    const id = await this.#redis.get(this.#pointerKey(kind, value));
    return id ? this.find(id) : undefined;
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findByPointer('uid', uid);
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findByPointer('userCode', userCode);
  }

  async consume(id: string): Promise<void> {
    const result = await this.#redis.monbanConsume(this.#key(id), String(Math.floor(Date.now() / 1000)));
    if (result !== 1) throw alreadyConsumed(this.model);
  }

  async destroy(id: string): Promise<void> {
    await this.#redis.unlink(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const grantKey = this.#grantKey(grantId);
    const members = await this.#redis.smembers(grantKey);
    const mine = members.filter((key) => key.startsWith(`${this.prefix}oidc:${this.model}:`));
    if (mine.length === 0) return;
    // The keys live in slots of their own: one UNLINK each (in parallel), not one cross-slot command.
    await Promise.all([...mine.map((key) => this.#redis.unlink(key)), this.#redis.srem(grantKey, ...mine)]);
  }
}
