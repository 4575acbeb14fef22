import { sql, type Kysely } from 'kysely';

// Issue 19: OIDC Back-Channel Logout 1.0. Each signed-in session's index row remembers the sid
// it gave each relying party (account_sessions.logout_sids, {client_id: sid}). When a session
// ends, whatever ended it (a logout, a password change or reset, a new status, an admin's
// revocation), its row is marked revoked in the transaction of the change; this trigger then
// queues one logout notice per relying party that registered a backchannel_logout_uri, in the
// same transaction, and the courier delivers them with its retries (src/courier/courier.ts).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('account_sessions')
    .addColumn('logout_sids', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
  await sql`alter table outbox drop constraint if exists outbox_channel_check`.execute(db);
  await sql`alter table outbox add constraint outbox_channel_check check (channel in ('email', 'sms', 'logout'))`.execute(
    db,
  );
  // A logout notice's data ({sub, sid}) is no secret: the relying party has both in its ID token.
  await db.schema.alterTable('outbox').addColumn('data', 'jsonb').execute();
  await sql`
    create function monban_session_ended() returns trigger language plpgsql as $$
    begin
      insert into outbox (channel, template, locale, recipient, data)
      select 'logout', 'backchannel-logout', 'en', c.key, jsonb_build_object('sub', new.account_id, 'sid', c.value)
      from jsonb_each_text(new.logout_sids) c
      join oidc_clients oc on oc.client_id = c.key
      where coalesce(oc.metadata->>'backchannel_logout_uri', '') <> '';
      return null;
    end $$`.execute(db);
  await sql`
    create trigger account_session_ended after update of revoked_at on account_sessions
    for each row when (old.revoked_at is null and new.revoked_at is not null)
    execute function monban_session_ended()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists account_session_ended on account_sessions`.execute(db);
  await sql`drop function if exists monban_session_ended()`.execute(db);
  await db.schema.alterTable('outbox').dropColumn('data').execute();
  await db.schema.alterTable('account_sessions').dropColumn('logout_sids').execute();
}
