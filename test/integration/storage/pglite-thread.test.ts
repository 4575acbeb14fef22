/**
 * The embedded default runs PGlite on a thread of its own (src/db/pglite-thread.ts): a statement
 * no longer stops the HTTP server while it runs, its errors say what PostgreSQL said and nothing
 * of the statement's parameters, and once the database's thread is gone every statement fails as
 * an outage (503), never as a success or a hang.
 */
import { sql } from 'kysely';
import { isOutage } from '../../../src/errors.js';
import { isUniqueViolation } from '../../../src/db/unique-violation.js';
import { startPGliteThread } from '../../../src/db/pglite-thread.js';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { migratedDump } from '../../helpers/pglite-dump.js';

describe('the embedded database on its own thread', () => {
  let h: TestApp;
  beforeAll(async () => {
    h = await startTestApp({ mode: 'embedded' });
  });
  afterAll(async () => {
    await h.close();
  });

  it('answers HTTP while a long statement runs', async () => {
    const events: string[] = [];
    // Seconds of PostgreSQL's CPU: on the event loop's thread, nothing else could run meanwhile.
    const long = sql<{ n: string }>`select count(*) as n from generate_series(1, 4000000)`
      .execute(h.app.db)
      .then(() => events.push('statement'));
    // Discovery first waits for the statement to have started on the database's thread.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const answer = await fetch(`${h.issuer}/.well-known/openid-configuration`);
    events.push(`discovery ${answer.status}`);
    await long;
    expect(events).toEqual(['discovery 200', 'statement']);
  });

  it("reports PostgreSQL's error code and constraint, and none of the statement's parameters", async () => {
    const secret = 'correct-horse-battery-staple';
    await sql`create temporary table pglite_thread_t (k text constraint pglite_thread_t_k unique, v text)`.execute(
      h.app.db,
    );
    await sql`insert into pglite_thread_t values ('one', ${secret})`.execute(h.app.db);
    const err = await sql`insert into pglite_thread_t values ('one', ${secret})`.execute(h.app.db).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(isUniqueViolation(err, 'pglite_thread_t_k')).toBe(true);
    // PGlite's own error also carries the statement's parameters; a logged error must not.
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain(secret);
    expect(isOutage(err)).toBe(false);
  });
});

describe("the embedded database's values", () => {
  it('come back parsed as PostgreSQL typed them, arrays included', async () => {
    const thread = await startPGliteThread('memory://', await migratedDump());
    try {
      const { rows } = await thread.query(
        `select array['a', 'b'] as texts, array[1, 2]::int4[] as ints, '{"k": [1]}'::jsonb as doc,
          5::int8 as big, 1.5::float8 as real, true as yes, '\\x0102'::bytea as bytes,
          '2025-01-15T10:00:00Z'::timestamptz as at, null::text as nothing`,
      );
      const [row] = rows as Record<string, unknown>[];
      expect(row).toMatchObject({ texts: ['a', 'b'], ints: [1, 2], doc: { k: [1] }, real: 1.5, yes: true });
      expect(row?.nothing).toBeNull();
      expect(Number(row?.big)).toBe(5);
      expect(Array.from(row?.bytes as Uint8Array)).toEqual([1, 2]);
      expect(new Date(row?.at as string | number | Date).toISOString()).toBe('2025-01-15T10:00:00.000Z');
      expect(row?.at).not.toBe('2025-01-15 10:00:00+00');
    } finally {
      await thread.close();
    }
  });
});

describe("the embedded database's thread once gone", () => {
  it('fails every statement as an outage', async () => {
    const thread = await startPGliteThread('memory://', await migratedDump());
    expect((await thread.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    await thread.close();
    const err = await thread.query('select 1 as one').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(isOutage(err)).toBe(true);
  });

  it('refuses every listener, not only the first on a channel', async () => {
    const thread = await startPGliteThread('memory://', await migratedDump());
    await thread.close();
    const listening = [thread.listen('monban_test', () => {}), thread.listen('monban_test', () => {})];
    for (const outcome of await Promise.allSettled(listening)) {
      expect(outcome.status).toBe('rejected');
      if (outcome.status === 'rejected') expect(isOutage(outcome.reason)).toBe(true);
    }
  });
});
