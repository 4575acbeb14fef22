import { sql } from 'kysely';
import { openScratchStorage } from '../../helpers/databases.js';
import { EMBEDDED } from '../../helpers/env.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe.each(EMBEDDED ? ['pglite' as const] : ['postgres' as const, 'pglite' as const])(
  'LISTEN/NOTIFY between processes (%s)',
  (kind) => {
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
  },
);
