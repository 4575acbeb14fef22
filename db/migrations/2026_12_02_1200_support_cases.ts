import { sql, type Kysely } from 'kysely';

// Support cases (issue 15, M2): a partner asks for a new email address from the profile page;
// an operator approves (the verified change with the account on hold) or rejects it.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('support_cases')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('account_id', 'uuid', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    // What is asked; only 'email_change' so far.
    .addColumn('kind', 'text', (c) => c.notNull())
    // The address when the case was opened, and the one asked for (normalised).
    .addColumn('current_email', 'text', (c) => c.notNull())
    .addColumn('requested_email', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('open'))
    // The operator's message to the user when rejecting.
    .addColumn('response', 'text')
    // An admin client's client_id or 'cli'.
    .addColumn('resolved_by', 'text')
    .addColumn('resolved_at', 'timestamptz')
    // Milliseconds, as JavaScript's Date holds them: the list's cursor carries the time exactly.
    .addColumn('created_at', sql`timestamptz(3)`, (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('support_cases_status', sql`status in ('open', 'approved', 'rejected')`)
    .execute();
  // One open case per account: asking again while one is open is refused.
  await sql`create unique index support_cases_open on support_cases (account_id) where status = 'open'`.execute(db);
  await sql`create index support_cases_listing on support_cases (status, created_at, id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('support_cases').ifExists().execute();
}
