import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createScratchDatabase } from './databases.js';
import { EMBEDDED, TEST_REDIS_URL, TEST_SECRET } from './env.js';
import type { FakeDuo } from './fake-duo.js';

export interface TestAppOptions {
  /** 'server' (default): real PostgreSQL + Redis. 'embedded': PGlite in memory, models in it, no Redis. */
  mode?: 'server' | 'embedded';
  overrides?: Record<string, unknown>;
  /** A fake Duo on loopback: Monban is configured for it and its client trusts its certificate. */
  duo?: FakeDuo;
}

export interface TestApp {
  app: App;
  issuer: string;
  close(): Promise<void>;
}

/** A port the OS considers free right now, on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Builds the production app against real services, on its own database and Redis prefix. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const mode = options.mode ?? (EMBEDDED ? 'embedded' : 'server');
  const port = (options.overrides?.port as number | undefined) ?? await freePort();
  const issuer = (options.overrides?.issuer as string | undefined) ?? `http://localhost:${port}`;
  const scratch = mode === 'server' ? await createScratchDatabase() : undefined;
  const prefix = (options.overrides?.redisKeyPrefix as string | undefined) ?? `monban-test:${randomBytes(6).toString('hex')}:`;
  const config = loadConfig({
    env: { NODE_ENV: 'test' },
    overrides: {
      port,
      issuer,
      secret: TEST_SECRET,
      dataDir: 'memory://',
      redisKeyPrefix: prefix,
      ...(scratch ? { databaseUrl: scratch.url, redisUrl: TEST_REDIS_URL } : {}),
      ...options.overrides,
      ...(options.duo ? { mfa: { ...(options.overrides?.mfa as object | undefined), duo: options.duo.settings } } : {}),
    },
  });
  const app = await createApp(config, options.duo ? { duoClient: options.duo.clientFactory } : {});
  await app.listen(port);
  return {
    app,
    issuer,
    async close() {
      const redis = app.redis;
      if (redis) {
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length) await redis.del(...keys);
      }
      await app.stop();
      await scratch?.drop();
    },
  };
}
