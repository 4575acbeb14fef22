import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { PROJECT_ROOT } from '../../src/paths.js';
import type { Database } from '../../src/db/schema.js';
import { migrateToLatest } from '../../src/db/migrate.js';

/**
 * A new PGlite database in memory first runs initdb, about five seconds of CPU (three times that
 * with both test workers busy), and a test file may start several. So the embedded tests start
 * from one dump of a migrated database instead (about a second to load), made once per version
 * of PGlite and of the migrations, and kept in the temporary directory for the next run.
 */
function dumpFile(): string {
  const hash = createHash('sha256');
  const pgliteVersion = (
    JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'node_modules/@electric-sql/pglite/package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  hash.update(pgliteVersion);
  const migrationsDir = path.join(PROJECT_ROOT, 'db/migrations');
  for (const name of readdirSync(migrationsDir).sort()) {
    hash.update(`\u0000${name}\u0000`).update(readFileSync(path.join(migrationsDir, name)));
  }
  return path.join(tmpdir(), `monban-pglite-migrated-${hash.digest('hex').slice(0, 16)}.tar`);
}

async function makeDump(file: string): Promise<void> {
  const pglite = await PGlite.create('memory://');
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  try {
    await migrateToLatest(db);
    const dump = await pglite.dumpDataDir('none');
    // Two test workers may make it at once: each writes its own file and renames it into place.
    const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
    renameSync(partial, file);
  } finally {
    await db.destroy();
  }
}

let loaded: Blob | undefined;

/** The dump of a migrated embedded database, for openDatabase's memoryDump. */
export async function migratedDump(): Promise<Blob> {
  if (loaded) return loaded;
  const file = dumpFile();
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    await makeDump(file);
    bytes = readFileSync(file);
  }
  loaded = new Blob([bytes]);
  return loaded;
}
