import { sql } from 'kysely';
import { compiledOnce } from '../../../src/db/compiled-once.js';
import type { DatabaseHandle } from '../../../src/db/database.js';
import { openScratchStorage } from '../../helpers/databases.js';
import { EMBEDDED } from '../../helpers/env.js';

/** Issue 16: a hot statement built once per database answers each call with that call's values. */
describe('statements compiled once', () => {
  let storage: { handle: DatabaseHandle; close(): Promise<void> };
  beforeAll(async () => {
    storage = await openScratchStorage(EMBEDDED ? 'pglite' : 'postgres');
  });
  afterAll(async () => {
    await storage?.close();
  });

  it('builds the statement once and runs it with the values of each call', async () => {
    let built = 0;
    const echo = compiledOnce(
      (db, first: string, second: string) => {
        built += 1;
        return db.selectNoFrom([
          sql<string>`${first}::text`.as('first'),
          sql<string>`${second}::text || '!'`.as('second'),
          sql<string>`${'fixed'}::text`.as('fixed'),
        ]);
      },
      ['\u0000first', '\u0000second'],
    );
    const { db } = storage.handle;
    expect(await echo(db, 'a', 'b')).toEqual([{ first: 'a', second: 'b!', fixed: 'fixed' }]);
    expect(await echo(db, 'c', 'd')).toEqual([{ first: 'c', second: 'd!', fixed: 'fixed' }]);
    expect(built).toBe(1);
  });

  it('refuses a placeholder the statement does not use', async () => {
    const broken = compiledOnce(
      (db, value: string) => db.selectNoFrom(sql<string>`${value + 'x'}::text`.as('v')),
      ['\u0000value'],
    );
    await expect(broken(storage.handle.db, 'a')).rejects.toThrow('\u0000value is not a parameter');
  });
});
