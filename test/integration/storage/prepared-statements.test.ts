import { sql } from 'kysely';
import pg from 'pg';
import { openDatabase, type DatabaseHandle } from '../../../src/db/database.js';
import { createScratchDatabase } from '../../helpers/databases.js';
import { EMBEDDED } from '../../helpers/env.js';

/**
 * On PostgreSQL, a statement the process sends again is prepared once per connection
 * (DATABASE_PREPARED_STATEMENTS, on by default), and nothing an operator does to the schema or
 * the server's statement cache makes a query fail because of it. One connection per pool, so
 * every statement of a test meets the same server session.
 */
const describeOnPostgres = EMBEDDED ? describe.skip : describe;

describeOnPostgres('prepared statements on PostgreSQL', () => {
  let scratch: { url: string; drop(): Promise<void> };
  const opened: DatabaseHandle[] = [];
  const open = async (preparedStatements = true) => {
    const handle = await openDatabase({
      databaseUrl: scratch.url,
      dataDir: 'memory://',
      poolSize: 1,
      preparedStatements,
    });
    opened.push(handle);
    return handle;
  };
  /** Another connection, as a migration run by another process would be. */
  const elsewhere = async (text: string) => {
    const client = new pg.Client({ connectionString: scratch.url });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  };
  const prepared = async ({ db }: DatabaseHandle) =>
    (
      await sql<{
        statement: string;
      }>`select statement from pg_prepared_statements where name like 'monban\\_%'`.execute(db)
    ).rows.map((r) => r.statement);
  const readNote = ({ db }: DatabaseHandle, id: number) =>
    sql<Record<string, unknown>>`select * from notes where id = ${id}`.execute(db).then((r) => r.rows[0]);

  beforeAll(async () => {
    scratch = await createScratchDatabase();
  });
  beforeEach(async () => {
    await elsewhere(
      'drop table if exists notes; create table notes (id int primary key, body text); insert into notes values (1, $$first$$)',
    );
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((h) => h.close()));
  });
  afterAll(async () => {
    await scratch?.drop();
  });

  it('prepares a statement from its second send on, once per connection, and leaves parameterless text alone', async () => {
    const handle = await open();
    expect(await readNote(handle, 1)).toEqual({ id: 1, body: 'first' });
    expect(await prepared(handle)).toEqual([]);
    for (let i = 0; i < 3; i += 1) expect(await readNote(handle, 1)).toEqual({ id: 1, body: 'first' });
    expect(await prepared(handle)).toEqual(['select * from notes where id = $1']);
    // Several commands in one text cannot be a prepared statement: sent twice, it still works.
    for (let i = 0; i < 2; i += 1) await sql`select 1; select 2`.execute(handle.db);
    expect(await prepared(handle)).toHaveLength(1);
  });

  it('prepares nothing when DATABASE_PREPARED_STATEMENTS is false', async () => {
    const handle = await open(false);
    for (let i = 0; i < 3; i += 1) await readNote(handle, 1);
    expect(await prepared(handle)).toEqual([]);
  });

  it('answers with the new columns when a migration changed the table under a prepared statement', async () => {
    const handle = await open();
    for (let i = 0; i < 2; i += 1) await readNote(handle, 1);
    await elsewhere('alter table notes add column author text');
    expect(await readNote(handle, 1)).toEqual({ id: 1, body: 'first', author: null });
    expect(await readNote(handle, 1)).toEqual({ id: 1, body: 'first', author: null });
  });

  it('keeps a transaction going when a migration changed the table under a statement it sends', async () => {
    const handle = await open();
    for (let i = 0; i < 2; i += 1) await readNote(handle, 1);
    await elsewhere('alter table notes add column author text');
    const inserted = await handle.db.transaction().execute(async (trx) => {
      const before = await sql<Record<string, unknown>>`select * from notes where id = ${1}`.execute(trx);
      await sql`insert into notes (id, body) values (${2}, ${'second'})`.execute(trx);
      return before.rows[0];
    });
    expect(inserted).toEqual({ id: 1, body: 'first', author: null });
    expect(await readNote(handle, 2)).toEqual({ id: 2, body: 'second', author: null });
  });

  it('still answers when the server forgot its prepared statements (DEALLOCATE ALL)', async () => {
    const handle = await open();
    for (let i = 0; i < 2; i += 1) await readNote(handle, 1);
    await sql`deallocate all`.execute(handle.db);
    expect(await readNote(handle, 1)).toEqual({ id: 1, body: 'first' });
    expect(await readNote(handle, 1)).toEqual({ id: 1, body: 'first' });
  });
});
