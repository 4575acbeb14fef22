import './cli/supported-node.js';
import cluster from 'node:cluster';
import { createApp } from './app.js';
import { runPrimary } from './cluster.js';
import { ConfigError, loadConfig } from './config/load.js';
import { developmentDefaultWarnings } from './config/report.js';
import { createLogger } from './logger.js';
import { stopOnSignals } from './server/lifecycle.js';
import { DatabaseInUseError } from './db/database.js';
import { SchemaBehindError } from './db/migrate.js';
import { SecretMismatchError } from './security/derived-keys.js';

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
    stop: () => app.stop(),
    // Draining, then a few seconds to close the courier, PostgreSQL and Redis.
    hardLimitMs: (delaySeconds + graceSeconds + 10) * 1000,
  });
}

main().catch((err: unknown) => {
  if (err instanceof DatabaseInUseError || err instanceof SchemaBehindError || err instanceof SecretMismatchError) {
    process.stderr.write(`Monban cannot start: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`Monban failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
