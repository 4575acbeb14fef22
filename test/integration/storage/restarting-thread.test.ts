/**
 * The embedded database's thread, when it dies, starts again on the same data directory
 * (src/db/restarting-thread.ts), as PostgreSQL recovers from a crashed backend: what was
 * committed is there, the statements after it run, listeners hear NOTIFYs again, and a
 * transaction the dead thread held never half-commits on the new one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kysely, sql } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { isOutage } from '../../../src/errors.js';
import { startPGliteThread, type PGliteThread } from '../../../src/db/pglite-thread.js';
import { restartingThread } from '../../../src/db/restarting-thread.js';
import { reportRestarts } from '../../../src/db/database.js';
import { metrics } from '../../../src/observability/metrics.js';
import { migratedDump } from '../../helpers/pglite-dump.js';

const caught = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => undefined,
    (err: unknown) => err,
  );

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(check()).toBe(true);
}

/**
 * A thread that dies within `stableAfterMs` of its start waits before the next; 0 (these tests
 * kill threads right after starting them) starts it again at once.
 */
function restartable(start: () => Promise<PGliteThread>, first: PGliteThread, stableAfterMs = 0) {
  const events: string[] = [];
  const thread = restartingThread(
    first,
    start,
    {
      stopped: (_err, retryInMs) => events.push(retryInMs === undefined ? 'stopped' : `stopped, retry in ${retryInMs}`),
      restarted: () => events.push('restarted'),
      failed: () => events.push('failed'),
    },
    { stableAfterMs },
  );
  const db = new Kysely<{ crash_t: { k: string } }>({
    dialect: new PGliteDialect(thread as unknown as ConstructorParameters<typeof PGliteDialect>[0]),
  });
  const keys = async () => (await db.selectFrom('crash_t').select('k').orderBy('k').execute()).map((row) => row.k);
  return { events, thread, db, keys };
}

describe("the embedded database's thread on disk, once it dies", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'monban-restart-'));
  let h: ReturnType<typeof restartable>;
  beforeAll(async () => {
    const start = () => startPGliteThread(dir);
    h = restartable(start, await start());
    await sql`create table crash_t (k text primary key)`.execute(h.db);
  });
  afterAll(async () => {
    await h.db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts again with what was committed, and its listeners hear NOTIFYs again', async () => {
    await sql`insert into crash_t values ('before')`.execute(h.db);
    const heard: (string | undefined)[] = [];
    await h.thread.listen('crash_c', (payload) => heard.push(payload));
    await h.thread.terminate();

    expect(await h.keys()).toEqual(['before']);
    expect(h.events).toEqual(['stopped', 'restarted']);
    // Told that NOTIFYs may have been missed while it was down, then hearing the next one.
    expect(heard).toEqual([undefined]);
    await sql`select pg_notify('crash_c', 'after')`.execute(h.db);
    await until(() => heard.length === 2);
    expect(heard).toEqual([undefined, 'after']);
  });

  it('fails the rest of a transaction the dead thread held, and commits none of it', async () => {
    h.events.length = 0;
    const err = await caught(
      h.db.transaction().execute(async (trx) => {
        await sql`insert into crash_t values ('lost-1')`.execute(trx);
        await h.thread.terminate();
        await until(() => h.events.includes('restarted'));
        // On the new thread this would commit on its own.
        await sql`insert into crash_t values ('lost-2')`.execute(trx);
      }),
    );
    expect(isOutage(err)).toBe(true);
    expect(await h.keys()).toEqual(['before']);
    await h.db.transaction().execute((trx) => sql`insert into crash_t values ('next')`.execute(trx));
    expect(await h.keys()).toEqual(['before', 'next']);
  });
});

describe("the embedded database's thread, when it cannot start again", () => {
  it('fails statements as outages, then tries again', async () => {
    const dump = await migratedDump();
    let refuse = true;
    const start = async () => {
      if (refuse) throw new Error('no memory for PostgreSQL');
      return startPGliteThread('memory://', dump);
    };
    const h = restartable(start, await startPGliteThread('memory://', dump));
    try {
      await h.thread.terminate();
      await until(() => h.events.includes('failed'));
      refuse = false;
      // Within the first second after the failed attempt, no new one.
      expect(isOutage(await caught(h.thread.query('select 1')))).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect((await h.thread.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
      expect(h.events).toEqual(['stopped', 'failed', 'restarted']);
    } finally {
      await h.db.destroy();
    }
  });
});

describe("the embedded database's thread, when it keeps dying right after it starts", () => {
  it('waits 1 s, then 2 s, ... before starting it again, failing statements meanwhile', async () => {
    const dump = await migratedDump();
    const start = () => startPGliteThread('memory://', dump);
    const h = restartable(start, await start(), 60_000);
    try {
      await h.thread.terminate();
      await until(() => h.events.length === 1);
      expect(h.events).toEqual(['stopped, retry in 1000']);
      expect(isOutage(await caught(h.thread.query('select 1')))).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect((await h.thread.query('select 1 as one')).rows).toEqual([{ one: 1 }]);

      // Dead again within the minute: the wait has doubled.
      await h.thread.terminate();
      await until(() => h.events.length === 3);
      expect(h.events).toEqual(['stopped, retry in 1000', 'restarted', 'stopped, retry in 2000']);
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(isOutage(await caught(h.thread.query('select 1')))).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect((await h.thread.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await h.db.destroy();
    }
  });

  it('is told to the operator: each stop logged and counted on /metrics', async () => {
    const logged: string[] = [];
    const log = (_fields: unknown, message?: string) => void logged.push(message ?? String(_fields));
    const restarts = reportRestarts({ error: log, info: log });
    const count = async (name: string) => (await metrics.getSingleMetric(name)!.get()).values[0]?.value ?? 0;
    const [stops, failures] = [
      await count('monban_embedded_database_stops_total'),
      await count('monban_embedded_database_failed_starts_total'),
    ];
    restarts.stopped(new Error('aborted'));
    restarts.stopped(new Error('aborted'), 1_000);
    restarts.failed(new Error('no memory'), 2_000);
    expect(await count('monban_embedded_database_stops_total')).toBe(stops + 2);
    expect(await count('monban_embedded_database_failed_starts_total')).toBe(failures + 1);
    expect(logged).toEqual([
      'the embedded database stopped; starting it again',
      'the embedded database stopped soon after it started; statements fail until it starts again',
      'the embedded database could not be started again; statements fail until it is',
    ]);
  });
});
