import './cli/supported-node.js';
import './cli/threadpool.js';
import cluster from 'node:cluster';
import { runPrimary } from './cluster.js';
import { ConfigError, loadConfig } from './config/load.js';
import { developmentDefaultWarnings } from './config/report.js';
import { createLogger } from './logger.js';
import { stopOnSignals } from './server/lifecycle.js';

// Only modules that load no instrumented library are imported above: with tracing on, the
// application (pg, ioredis, node:http) is imported below, after tracing has hooked them.

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Monban cannot start: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  if (cluster.isPrimary) for (const warning of developmentDefaultWarnings(config, process.env)) logger.warn(warning);
  if (config.webConcurrency > 1 && cluster.isPrimary) {
    runPrimary(config.webConcurrency, logger);
    return;
  }
  // Off: no OpenTelemetry module is loaded at all.
  const tracing = config.tracing.enabled
    ? (await import('./observability/tracing.js')).startTracing(config.tracing, logger)
    : undefined;
  const { createApp } = await import('./app.js');
  const app = await createApp(config, { logger });
  const port = await app.listen();
  logger.info(
    {
      port,
      issuer: config.issuer,
      database: app.database.kind,
      store: app.redis ? 'redis' : 'database',
    },
    `Monban is listening; discovery at ${config.issuer}/.well-known/openid-configuration`,
  );

  const { delaySeconds, graceSeconds } = config.shutdown;
  stopOnSignals({
    logger,
    stop: async () => {
      await app.stop();
      await tracing?.shutdown();
    },
    // Draining, then a few seconds to close the courier, PostgreSQL and Redis (and send the last spans).
    hardLimitMs: (delaySeconds + graceSeconds + 10) * 1000,
  });
}

/** Refusals that need no stack: the operator has something to fix. */
const REFUSALS = new Set(['DatabaseInUseError', 'SchemaBehindError', 'SecretMismatchError']);

main().catch((err: unknown) => {
  if (err instanceof Error && REFUSALS.has(err.name)) {
    process.stderr.write(`Monban cannot start: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`Monban failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
