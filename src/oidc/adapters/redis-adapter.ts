import type { Redis } from 'ioredis';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { alreadyConsumed } from './errors.js';

// Marks a stored model consumed only if it exists and is not consumed yet, in one step.
// Returns 1 when this call consumed it, 0 when it was consumed already, -1 when it is gone.
const CONSUME_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[1], 'consumed', ARGV[1])
`;

/**
 * oidc-provider models in Redis: each model a hash {payload, consumed?} with the model's TTL,
 * plus sets that index it by grant, and pointers by interaction uid and device user code.
 */
export class RedisAdapter implements Adapter {
  constructor(
    private readonly redis: Redis,
    private readonly model: string,
    private readonly prefix: string,
  ) {}

  #key(id: string): string {
    return `${this.prefix}oidc:${this.model}:${id}`;
  }

  #grantKey(grantId: string): string {
    return `${this.prefix}oidc:grant:${grantId}`;
  }

  #indexKey(kind: 'uid' | 'userCode', value: string): string {
    return `${this.prefix}oidc:${this.model}:${kind}:${value}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const key = this.#key(id);
    // HSET replaces the payload but keeps a 'consumed' mark: a re-save never un-consumes.
    const multi = this.redis.multi().hset(key, 'payload', JSON.stringify(payload));
    if (payload.consumed) multi.hsetnx(key, 'consumed', String(payload.consumed));
    if (expiresIn) multi.expire(key, expiresIn);
    else multi.persist(key);
    if (payload.grantId) {
      const grantKey = this.#grantKey(payload.grantId);
      multi.sadd(grantKey, key);
      // The index lives as long as its longest member: only ever extend its TTL.
      if (expiresIn) multi.expire(grantKey, expiresIn, 'GT').expire(grantKey, expiresIn, 'NX');
    }
    for (const [kind, value] of [['uid', payload.uid], ['userCode', payload.userCode]] as const) {
      if (!value) continue;
      if (expiresIn) multi.set(this.#indexKey(kind, value), id, 'EX', expiresIn);
      else multi.set(this.#indexKey(kind, value), id);
    }
    await multi.exec();
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const stored = await this.redis.hgetall(this.#key(id));
    if (!stored.payload) return undefined;
    const payload = JSON.parse(stored.payload) as AdapterPayload;
    if (stored.consumed) payload.consumed = Number(stored.consumed);
    return payload;
  }

  async #findByIndex(kind: 'uid' | 'userCode', value: string): Promise<AdapterPayload | undefined> {
    const id = await this.redis.get(this.#indexKey(kind, value));
    return id ? this.find(id) : undefined;
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findByIndex('uid', uid);
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findByIndex('userCode', userCode);
  }

  async consume(id: string): Promise<void> {
    const now = String(Math.floor(Date.now() / 1000));
    const result = await this.redis.eval(CONSUME_SCRIPT, 1, this.#key(id), now);
    if (result !== 1) throw alreadyConsumed(this.model);
  }

  async destroy(id: string): Promise<void> {
    await this.redis.del(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    const grantKey = this.#grantKey(grantId);
    const members = await this.redis.smembers(grantKey);
    const mine = members.filter((key) => key.startsWith(`${this.prefix}oidc:${this.model}:`));
    if (mine.length === 0) return;
    await this.redis.multi().del(...mine).srem(grantKey, ...mine).exec();
  }
}
