import { randomBytes } from 'node:crypto';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createScratchDatabase } from './databases.js';
import { migratedDump } from './pglite-dump.js';
import { EMBEDDED, REDIS_CLUSTER, TEST_REDIS_URL, TEST_SECRET } from './env.js';
import { freePort } from './ports.js';
import { startRedisCluster } from './redis-cluster.js';
import type { Logger } from '../../src/logger.js';
import type { FakeDuo } from './fake-duo.js';
import { TcpProxy } from './tcp-proxy.js';

export { freePort };

export interface TestAppOptions {
  /** 'server' (default): real PostgreSQL + Redis. 'embedded': PGlite in memory, models in it, no Redis. */
  mode?: 'server' | 'embedded';
  overrides?: Record<string, unknown>;
  /** A fake Duo on loopback: Monban is configured for it and its client trusts its certificate. */
  duo?: FakeDuo;
  /** Where the app logs (default: the configured level, silent in tests). */
  logger?: Logger;
  /** Reach PostgreSQL and Redis through loopback proxies the test can cut (outage tests). */
  proxies?: boolean;
}

export interface TestApp {
  app: App;
  issuer: string;
  /** With `proxies`: cut or restore the app's way to PostgreSQL and Redis. */
  postgres?: TcpProxy;
  redis?: TcpProxy;
  close(): Promise<void>;
}

/** Builds the production app against real services, on its own database and Redis prefix. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const mode = options.mode ?? (EMBEDDED ? 'embedded' : 'server');
  const port = (options.overrides?.port as number | undefined) ?? (await freePort());
  const issuer = (options.overrides?.issuer as string | undefined) ?? `http://localhost:${port}`;
  const scratch = mode === 'server' ? await createScratchDatabase() : undefined;
  const cluster = scratch && REDIS_CLUSTER ? await startRedisCluster() : undefined;
  const prefix =
    (options.overrides?.redisKeyPrefix as string | undefined) ?? `monban-test:${randomBytes(6).toString('hex')}:`;
  const postgres = options.proxies && scratch ? await TcpProxy.start(scratch.url) : undefined;
  const redisProxy = options.proxies && scratch ? await TcpProxy.start(TEST_REDIS_URL) : undefined;
  const config = loadConfig({
    env: { NODE_ENV: 'test' },
    overrides: {
      port,
      issuer,
      secret: TEST_SECRET,
      dataDir: 'memory://',
      redisKeyPrefix: prefix,
      ...(scratch
        ? {
            databaseUrl: postgres ? postgres.url(scratch.url) : scratch.url,
            redisUrl: redisProxy ? redisProxy.url(TEST_REDIS_URL) : TEST_REDIS_URL,
          }
        : {}),
      ...(cluster ? { redisUrl: undefined, redisClusterNodes: cluster.nodes } : {}),
      ...options.overrides,
      ...(options.duo ? { mfa: { ...(options.overrides?.mfa as object | undefined), duo: options.duo.settings } } : {}),
    },
  });
  const app = await createApp(config, {
    ...(config.dataDir === 'memory://' && !config.databaseUrl ? { memoryDump: await migratedDump() } : {}),
    ...(options.duo ? { duoClient: options.duo.clientFactory } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  await app.listen(port);
  return {
    app,
    issuer,
    ...(postgres ? { postgres } : {}),
    ...(redisProxy ? { redis: redisProxy } : {}),
    async close() {
      await postgres?.restore();
      await redisProxy?.restore();
      const redis = app.redis;
      if (redis && !cluster) {
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length) await redis.del(...keys);
      }
      await app.stop();
      await cluster?.stop();
      await postgres?.close();
      await redisProxy?.close();
      await scratch?.drop();
    },
  };
}
