import { sql, type Kysely } from 'kysely';

// Issue 16: the courier waits for work instead of querying the outbox every second. Every
// statement that adds to the outbox (any process, the admin CLI included) sends NOTIFY
// monban_outbox when it commits; couriers LISTEN (src/courier/courier.ts).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function monban_outbox_notify() returns trigger language plpgsql as $$
    begin
      perform pg_notify('monban_outbox', '');
      return null;
    end $$`.execute(db);
  await sql`
    create trigger outbox_notify after insert on outbox
    for each statement execute function monban_outbox_notify()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists outbox_notify on outbox`.execute(db);
  await sql`drop function if exists monban_outbox_notify()`.execute(db);
}
