import type { RedisClient } from '../../src/redis/client.js';

/** What a test sees of a command the app sends: its name and its arguments. */
export interface SentCommand {
  name: string;
  args: string[];
}

/**
 * Shows `watch` every command the app's Redis client sends from now on, before it goes; returns
 * the function that stops watching.
 */
export function watchRedisCommands(redis: RedisClient, watch: (command: SentCommand) => void): () => void {
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: Parameters<typeof send>[0], ...rest: unknown[]) => {
    watch({ name: command.name, args: (command as unknown as { args: unknown[] }).args.map(String) });
    return (send as (...args: unknown[]) => unknown)(command, ...rest);
  }) as typeof redis.sendCommand;
  return () => {
    redis.sendCommand = send;
  };
}
