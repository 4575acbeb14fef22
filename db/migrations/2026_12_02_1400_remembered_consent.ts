import type { Kysely } from 'kysely';

// What the user allowed an app, kept with the grant's index row: a later login of the same
// account to the same app is given a grant with the same consent instead of the consent page.
// Rows written before this migration have none, so those apps ask once more.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('account_grants').addColumn('consented', 'jsonb').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('account_grants').dropColumn('consented').execute();
}
