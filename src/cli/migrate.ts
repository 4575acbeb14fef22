import './supported-node.js';
import { loadConfig } from '../config/load.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';

// `npm run migrate`: brings the configured database (DATABASE_URL or the embedded one) up to date.
const config = loadConfig();
const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
try {
  const result = await migrateToLatest(database.db);
  const applied = (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'already up to date\n');
} catch (err) {
  process.stderr.write(`migration failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await database.close();
}
