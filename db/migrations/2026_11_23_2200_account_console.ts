import { sql, type Kysely } from 'kysely';

// Account console (issue 4): profile and company fields, communication preferences, and indexes
// of each account's sessions and grants (oidc-provider keeps those in Redis or oidc_models with
// no way to list them by account).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('accounts')
    .addColumn('company_name', 'text')
    .addColumn('job_title', 'text')
    .addColumn('address', 'text')
    .addColumn('business_phone', 'text')
    // Company fields become read-only for the user once a company admin manages them (M3).
    .addColumn('company_managed', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('product_news', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();

  await db.schema
    .createTable('account_sessions')
    .addColumn('session_id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'uuid', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('user_agent', 'text')
    .addColumn('ip', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_seen_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('account_sessions_account').on('account_sessions').column('account_id').execute();

  await db.schema
    .createTable('account_grants')
    .addColumn('grant_id', 'text', (c) => c.primaryKey())
    .addColumn('account_id', 'uuid', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('account_grants_account')
    .on('account_grants')
    .columns(['account_id', 'client_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('account_grants').ifExists().execute();
  await db.schema.dropTable('account_sessions').ifExists().execute();
  for (const column of ['company_name', 'job_title', 'address', 'business_phone', 'company_managed', 'product_news']) {
    await db.schema.alterTable('accounts').dropColumn(column).execute();
  }
}
