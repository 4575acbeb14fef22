import { sql, type Kysely } from 'kysely';

// Issue 11 items 3 and 16: an account that reached the limit of consecutive wrong passwords
// (NIST 800-63B 5.2.2) is locked in PostgreSQL, so that an emptied Redis does not unlock it. The
// owner unlocks it with the link mailed to them (only its SHA-256 is kept), by a password reset,
// or an admin does.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('accounts')
    .addColumn('locked_at', 'timestamptz')
    .addColumn('unlock_token_hash', 'text')
    .execute();
  await sql`create unique index accounts_unlock_token_key on accounts (unlock_token_hash) where unlock_token_hash is not null`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('accounts').dropColumn('unlock_token_hash').dropColumn('locked_at').execute();
}
