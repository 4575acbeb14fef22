import { sql, type Kysely } from 'kysely';

// Issue 14, the admin API.
//
// audit_events.actor: who did it (for admin API actions the admin client's client_id, 'cli' for
// the command line on the database). audit_events.seq: the event's position in the log as the
// API shows it. A bigserial id is taken when a row is inserted but becomes visible when its
// transaction commits, so a reader paging by id can pass over a row that commits later with a
// smaller id. `tx` records the inserting transaction; a row is given its `seq` only once every
// transaction that could still commit a row before it has ended (tx below the snapshot's xmin),
// in (tx, id) order, so seq only ever grows in the order readers see it (src/security/audit-log.ts).
//
// admin_idempotency: the answer to a write sent with an Idempotency-Key, replayed to a retry.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_events').addColumn('actor', 'text').execute();
  await sql`alter table audit_events add column tx xid8 not null default pg_current_xact_id()`.execute(db);
  await db.schema.alterTable('audit_events').addColumn('seq', 'bigint').execute();
  await db.schema.createIndex('audit_events_seq').unique().on('audit_events').column('seq').execute();
  await sql`create index audit_events_unsequenced on audit_events (tx, id) where seq is null`.execute(db);
  await db.schema
    .createTable('admin_idempotency')
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('status', 'integer')
    .addColumn('body', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('admin_idempotency_pkey', ['client_id', 'key'])
    .execute();
  await db.schema.createIndex('admin_idempotency_created').on('admin_idempotency').column('created_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('admin_idempotency').ifExists().execute();
  await db.schema.dropIndex('audit_events_unsequenced').ifExists().execute();
  await db.schema.dropIndex('audit_events_seq').ifExists().execute();
  await db.schema.alterTable('audit_events').dropColumn('seq').dropColumn('tx').dropColumn('actor').execute();
}
