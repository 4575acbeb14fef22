import type { Kysely } from 'kysely';

// Issue 11 items 5 and 8: ending an account's sessions and grants is recorded here, in the same
// transaction as the change that ends them (a password change or reset, a new status, a new
// second factor). oidc-provider's sessions and grants are usable only while their row says they
// are not revoked (src/oidc/adapters/indexing-adapter.ts), so a Redis that refuses the deletions
// afterwards cannot keep them alive.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('account_sessions').addColumn('revoked_at', 'timestamptz').execute();
  await db.schema.alterTable('account_grants').addColumn('revoked_at', 'timestamptz').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('account_sessions').dropColumn('revoked_at').execute();
  await db.schema.alterTable('account_grants').dropColumn('revoked_at').execute();
}
