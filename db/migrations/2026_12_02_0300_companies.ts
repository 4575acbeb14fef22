import { sql, type Kysely } from 'kysely';

// Companies (issue 15): organisations that manage their employees' accounts, the domains they
// prove by DNS, and who belongs to which company with which role.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('companies')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name_ja', 'text', (c) => c.notNull())
    .addColumn('name_latin', 'text', (c) => c.notNull())
    // 法人番号: 13 digits, the first a check digit (National Tax Agency); at most one company each.
    .addColumn('corporate_number', 'text', (c) => c.unique())
    // Members without a second factor set one up at their next login.
    .addColumn('require_mfa', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('company_domains')
    .addColumn('company_id', 'uuid', (c) => c.notNull().references('companies.id').onDelete('cascade'))
    // Lowercase ASCII (IDNs in punycode), without a trailing dot.
    .addColumn('domain', 'text', (c) => c.notNull())
    // The value of the TXT record `monban-verification=<token>` that proves the domain.
    .addColumn('verification_token', 'text', (c) => c.notNull())
    .addColumn('verified_at', 'timestamptz')
    .addColumn('checked_at', 'timestamptz')
    // 'invitation': sign-ups with the domain need an invitation; 'auto': they join on sign-up.
    .addColumn('join_policy', 'text', (c) => c.notNull().defaultTo('invitation'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('company_domains_pkey', ['company_id', 'domain'])
    .execute();
  // Any company may claim a domain; only one may have it verified.
  await sql`create unique index company_domains_verified on company_domains (domain) where verified_at is not null`.execute(
    db,
  );
  await db.schema
    .createTable('company_memberships')
    .addColumn('company_id', 'uuid', (c) => c.notNull().references('companies.id').onDelete('cascade'))
    .addColumn('account_id', 'uuid', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('member', 'admin')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('company_memberships_pkey', ['company_id', 'account_id'])
    .execute();
  await db.schema.createIndex('company_memberships_account').on('company_memberships').column('account_id').execute();
  await db.schema
    .alterTable('audit_events')
    // The company an event belongs to, for the company admins' audit page.
    .addColumn('company_id', 'uuid')
    .execute();
  await sql`create index audit_events_company on audit_events (company_id, id) where company_id is not null`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('audit_events').dropColumn('company_id').execute();
  await db.schema.dropTable('company_memberships').ifExists().execute();
  await db.schema.dropTable('company_domains').ifExists().execute();
  await db.schema.dropTable('companies').ifExists().execute();
}
