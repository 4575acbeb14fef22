import { sql, type Kysely } from 'kysely';

// Invitations to a company (issue 15, C4): a company admin or an operator invites an address;
// the mailed link carries a random token of which only the SHA-256 is kept.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('company_invitations')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('company_id', 'uuid', (c) => c.notNull().references('companies.id').onDelete('cascade'))
    // Normalised (lower case) address the invitation is for; the link makes it verified.
    .addColumn('email', 'text', (c) => c.notNull())
    // Hex SHA-256 of the link's token (128 random bits); resending replaces it.
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('locale', 'text', (c) => c.notNull())
    // Who invited: a company admin's account id, an admin client's client_id, or 'cli'.
    .addColumn('invited_by', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('accepted_at', 'timestamptz')
    .addColumn('account_id', 'uuid', (c) => c.references('accounts.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // One open invitation per address and company: inviting again renews it.
  await sql`create unique index company_invitations_open on company_invitations (company_id, email)
    where accepted_at is null and revoked_at is null`.execute(db);
  await sql`create index company_invitations_company on company_invitations (company_id, created_at desc, id desc)`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('company_invitations').ifExists().execute();
}
