import { sql, type Kysely } from 'kysely';

// A company's bulk rename (issue 15, M3/M4): every member at one domain moves to another, e.g.
// after a merger. One job, one item per member, each item done in its own transaction with the
// address change it causes, so a restart resumes where it stopped and nothing is done twice.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('company_renames')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('company_id', 'uuid', (c) => c.notNull().references('companies.id').onDelete('cascade'))
    .addColumn('from_domain', 'text', (c) => c.notNull())
    .addColumn('to_domain', 'text', (c) => c.notNull())
    // A company admin's account id, an admin client's client_id, or 'cli'.
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('total', 'integer', (c) => c.notNull())
    .addColumn('done', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('skipped', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('finished_at', 'timestamptz')
    .addColumn('created_at', sql`timestamptz(3)`, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // One running rename per company at a time.
  await sql`create unique index company_renames_running on company_renames (company_id) where finished_at is null`.execute(
    db,
  );
  await db.schema
    .createTable('company_rename_items')
    .addColumn('rename_id', 'uuid', (c) => c.notNull().references('company_renames.id').onDelete('cascade'))
    .addColumn('account_id', 'uuid', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('new_email', 'text', (c) => c.notNull())
    // pending, then done (the change started) or skipped (with the reason's error code).
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('reason', 'text')
    .addColumn('finished_at', 'timestamptz')
    .addPrimaryKeyConstraint('company_rename_items_pk', ['rename_id', 'account_id'])
    .addCheckConstraint('company_rename_items_state', sql`state in ('pending', 'done', 'skipped')`)
    .execute();
  await sql`create index company_rename_items_pending on company_rename_items (rename_id) where state = 'pending'`.execute(
    db,
  );
  // An operator's approval of a partner's support case (M2) changes an address for no company.
  await db.schema
    .alterTable('email_changes')
    .alterColumn('company_id', (c) => c.dropNotNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('company_rename_items').ifExists().execute();
  await db.schema.dropTable('company_renames').ifExists().execute();
  await sql`delete from email_changes where company_id is null`.execute(db);
  await db.schema
    .alterTable('email_changes')
    .alterColumn('company_id', (c) => c.setNotNull())
    .execute();
}
