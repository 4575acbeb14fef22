import { sql, type Kysely } from 'kysely';

// MFA (issue 5): second factors of an account and its one-time recovery codes.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('mfa_factors')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('account_id', 'uuid', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('totp', 'duo')`))
    // pending until the user proves the factor works (a valid code, a Duo approval).
    .addColumn('state', 'text', (c) => c.notNull().check(sql`state in ('pending', 'active')`))
    .addColumn('secret_sealed', 'text')
    // The last TOTP time step accepted: each step is good once (RFC 6238 5.2).
    .addColumn('last_used_step', 'bigint')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('confirmed_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('mfa_factors_account').on('mfa_factors').column('account_id').execute();

  await db.schema
    .createTable('recovery_codes')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('account_id', 'uuid', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('code_hmac', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('recovery_codes_lookup')
    .on('recovery_codes')
    .columns(['account_id', 'code_hmac'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('recovery_codes').ifExists().execute();
  await db.schema.dropTable('mfa_factors').ifExists().execute();
}
