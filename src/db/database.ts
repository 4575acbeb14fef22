import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, PostgresDialect, type Dialect } from 'kysely';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDialect } from 'kysely-pglite-dialect';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  db: Db;
  /** 'postgres' for a server reached over DATABASE_URL, 'pglite' for the embedded default. */
  kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string | undefined;
  /** Embedded default: PGlite keeps its files in <dataDir>/pglite. 'memory://' keeps nothing. */
  dataDir: string;
  poolSize?: number;
}

/** Kysely over pg when a URL is given, otherwise over PGlite: the same SQL either way. */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  let dialect: Dialect;
  let kind: DatabaseHandle['kind'];
  if (options.databaseUrl) {
    kind = 'postgres';
    dialect = new PostgresDialect({
      pool: new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? 10 }),
    });
  } else {
    kind = 'pglite';
    let location = 'memory://';
    if (options.dataDir !== 'memory://') {
      location = path.resolve(options.dataDir, 'pglite');
      mkdirSync(location, { recursive: true });
    }
    const pglite = await PGlite.create(location);
    dialect = new PGliteDialect(pglite);
  }
  const db = new Kysely<Database>({ dialect });
  return { db, kind, close: () => db.destroy() };
}
