import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

export interface OwnRedis {
  url: string;
  /** A connection of the test's own, to look at keys and to break the server. */
  client: Redis;
  /** From now on the server refuses every write (NOREPLICAS), and still answers reads. */
  refuseWrites(): Promise<void>;
  allowWrites(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A Redis server of the test's own on a free loopback port (Debian's redis-server, nothing
 * saved), for tests that make Redis fail: the shared one is never touched.
 */
export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await client.connect();
      await client.ping();
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        server.kill('SIGTERM');
        throw err;
      }
      client.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    url,
    client,
    // A master that must reach one replica before accepting a write, and has none.
    refuseWrites: async () => {
      await client.config('SET', 'min-replicas-to-write', '1');
    },
    allowWrites: async () => {
      await client.config('SET', 'min-replicas-to-write', '0');
    },
    async stop() {
      client.disconnect();
      await new Promise<void>((resolve) => {
        if (server.exitCode !== null || server.signalCode !== null) return resolve();
        server.once('exit', () => resolve());
        server.kill('SIGTERM');
      });
    },
  };
}
