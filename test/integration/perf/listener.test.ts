import { sql } from 'kysely';
import pg from 'pg';
import { PgListener } from '../../../src/db/listener.js';
import { createScratchDatabase, openScratchStorage, STORAGE_KINDS } from '../../helpers/databases.js';
import { EMBEDDED, TEST_DATABASE_URL } from '../../helpers/env.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe.each(STORAGE_KINDS)('LISTEN/NOTIFY between processes (%s)', (kind) => {
  it('delivers notifications at commit, and says so when it may have missed some', async () => {
    const storage = await openScratchStorage(kind);
    const { db } = storage.handle;
    const heard: (string | undefined)[] = [];
    try {
      await storage.handle.listen('monban_test', (payload) => heard.push(payload));
      await db.transaction().execute(async (trx) => {
        await sql`select pg_notify('monban_test', 'one')`.execute(trx);
        await sleep(100);
        expect(heard).toEqual([]); // not before the commit
      });
      await waitFor('the first notification', () => heard.length === 1);
      expect(heard).toEqual(['one']);
      if (kind === 'pglite') return;

      // The server drops the listening session (restart, failover, an admin): it comes back and says so.
      await sql`select pg_terminate_backend(pid) from pg_stat_activity
                  where datname = current_database() and query ilike 'listen%'`.execute(db);
      await waitFor('the reconnection', () => heard.length === 2);
      expect(heard[1]).toBeUndefined();
      await sql`select pg_notify('monban_test', 'two')`.execute(db);
      await waitFor('a notification after the reconnection', () => heard.length === 3);
      expect(heard[2]).toBe('two');
    } finally {
      await storage.close();
    }
  }, 180_000); // PGlite takes a while to start on a busy machine
});

(EMBEDDED ? describe.skip : describe)('LISTEN on PostgreSQL, closed early', () => {
  it('leaves no session on the server when it is closed while still connecting', async () => {
    const scratch = await createScratchDatabase();
    const observer = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await observer.connect();
    const sessions = async () => {
      const { rows } = await observer.query<{ n: number }>(
        'select count(*)::int as n from pg_stat_activity where datname = $1',
        [new URL(scratch.url).pathname.slice(1)],
      );
      return rows[0]!.n;
    };
    try {
      const listener = new PgListener(scratch.url, () => undefined);
      const listening = listener.listen('monban_test', () => undefined);
      await listener.close(); // a shutdown while the connection is being made
      await listening;
      await waitFor('the session to end', async () => (await sessions()) === 0, 5_000);
      expect(await sessions()).toBe(0);
    } finally {
      await observer.end();
      await scratch.drop();
    }
  });
});
