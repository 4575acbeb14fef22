import { createHash } from 'node:crypto';
import type { RedisClient } from './client.js';

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/**
 * A Lua script run as EVALSHA, and as EVAL where the server does not know it yet (NOSCRIPT: a new
 * or restarted server, or one whose scripts were flushed), as ioredis' defineCommand would. Not
 * through defineCommand: ioredis copies every command defined that way onto each pipeline it
 * makes, and with auto-pipelining it makes one per tick of the event loop; with the app's ten
 * scripts that copying was about 0.2 ms of a login's CPU (issue 16).
 */
export class LuaScript {
  readonly #sha: string;

  /** `numberOfKeys` undefined: each call passes its number of keys first. */
  constructor(
    readonly lua: string,
    private readonly numberOfKeys?: number,
  ) {
    this.#sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(redis: RedisClient, ...args: (string | number)[]): Promise<unknown> {
    const [keyCount = 0, ...rest] = this.numberOfKeys === undefined ? args : [this.numberOfKeys, ...args];
    try {
      return await redis.evalsha(this.#sha, keyCount, ...rest);
    } catch (err) {
      if (!isNoScript(err)) throw err;
      return redis.eval(this.lua, keyCount, ...rest);
    }
  }
}

/**
 * Adds each script to the client as a method of the given name (once per client), where
 * defineCommand would have put it.
 */
export function addScripts<Methods>(redis: RedisClient, scripts: Record<string, LuaScript>): RedisClient & Methods {
  for (const [name, script] of Object.entries(scripts)) {
    if (name in redis) continue;
    Object.defineProperty(redis, name, { value: (...args: (string | number)[]) => script.run(redis, ...args) });
  }
  return redis as RedisClient & Methods;
}
