import { sql, type Kysely } from 'kysely';

// The login's account read looks up what the account last allowed the app (lastConsent in
// src/identity/accounts/repository.ts): its newest live grant for that app that has a consent.
// The index on (account_id, client_id) found every grant the account ever gave the app, still
// unexpired, and sorted them; one is written per login, so an account that logs in often made
// each of its logins cost more (about 1 ms of PostgreSQL CPU per 5,000 grants, issue 16). This
// index holds only the rows that lookup can return, newest first: it reads one.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('account_grants_last_consent')
    .on('account_grants')
    .columns(['account_id', 'client_id', 'created_at desc'])
    .where(sql.ref('revoked_at'), 'is', null)
    .where(sql.ref('consented'), 'is not', null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('account_grants_last_consent').ifExists().execute();
}
