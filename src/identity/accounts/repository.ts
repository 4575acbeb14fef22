import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { AccountRow, AccountUpdate, NewAccount } from '../../db/schema.js';
import { normalizeEmail } from './email.js';

export async function findAccountById(db: Db, id: string): Promise<AccountRow | undefined> {
  // Non-UUID input would make PostgreSQL raise; it simply matches nothing.
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return undefined;
  return db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findAccountByEmail(db: Db, email: string): Promise<AccountRow | undefined> {
  return db.selectFrom('accounts').selectAll()
    .where(sql`lower(email)`, '=', normalizeEmail(email))
    .executeTakeFirst();
}

export async function insertAccount(db: Db, account: NewAccount): Promise<AccountRow> {
  return db.insertInto('accounts').values(account).returningAll().executeTakeFirstOrThrow();
}

export async function updateAccount(db: Db, id: string, changes: AccountUpdate): Promise<void> {
  await db.updateTable('accounts').set({ ...changes, updated_at: new Date() }).where('id', '=', id).execute();
}
