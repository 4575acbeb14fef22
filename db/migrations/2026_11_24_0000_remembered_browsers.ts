import { sql, type Kysely } from 'kysely';

// MFA (issue 5): browsers where the user chose "remember this browser" after a second factor.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('remembered_browsers')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('account_id', 'uuid', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    // SHA-256 of the random token in the browser's cookie; the token itself is never stored.
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('user_agent', 'text')
    .addColumn('ip', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('remembered_browsers_account').on('remembered_browsers').column('account_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('remembered_browsers').ifExists().execute();
}
