import type { Command } from 'ioredis';
import type { StorageCounters } from '../observability/storage-counters.js';
import type { RedisClient } from './client.js';

const COUNTED = Symbol('monban.counted');

type Countable = Command & { [COUNTED]?: true };

/**
 * Counts every command the client sends in `counters`. ioredis hands each command, pipelined or
 * not, to the client's public `sendCommand` once (and again only when it retries one after a
 * reconnect or a cluster redirection, which the mark below leaves uncounted). Commands of one
 * pipeline or MULTI block share their stream and make one round trip.
 */
export function countRedisCommands<T extends RedisClient>(client: T, counters: StorageCounters): T {
  const send = client.sendCommand.bind(client) as (command: Command, stream?: unknown, node?: unknown) => unknown;
  let lastPipeline: unknown;
  (client as { sendCommand: typeof send }).sendCommand = (command: Countable, stream?: unknown, node?: unknown) => {
    if (!command[COUNTED]) {
      command[COUNTED] = true;
      const pipelined = (stream as { isPipeline?: boolean } | undefined)?.isPipeline === true;
      // A script's first argument is its digest: its first key says more.
      const key = command.name === 'evalsha' || command.name === 'eval' ? command.args[2] : command.args[0];
      counters.countCommand(command.name, key, !pipelined || stream !== lastPipeline);
      lastPipeline = pipelined ? stream : undefined;
    }
    return send(command, stream, node);
  };
  return client;
}
