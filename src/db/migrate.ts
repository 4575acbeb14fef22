import { Migrator, type MigrationResultSet } from 'kysely';
import { migrations } from '../../db/migrations/index.js';
import type { Db } from './database.js';

/** Brings the schema up to date. Kysely's migrator takes a lock, so parallel starts are safe. */
export async function migrateToLatest(db: Db): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve(migrations) },
  });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    const reason = result.error instanceof Error ? result.error.message : JSON.stringify(result.error);
    throw new Error(`migration ${failed} failed: ${reason}`, { cause: result.error });
  }
  return result;
}

/** Migrations this build knows that the database has not applied yet. */
export async function pendingMigrations(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(migrations) } });
  return (await migrator.getMigrations()).filter((m) => !m.executedAt).map((m) => m.name);
}

export class SchemaBehindError extends Error {
  override name = 'SchemaBehindError';
  constructor(readonly pending: string[]) {
    super(
      `the database schema is behind this version (pending: ${pending.join(', ')}). ` +
        'Run the migrations first (`migrate`), or set MIGRATE_ON_START=true.',
    );
  }
}
