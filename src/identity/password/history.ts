import type { Db } from '../../db/database.js';
import type { AccountRow } from '../../db/schema.js';

/** The hashes a new password may not match (PW3): the current one and the last ones before it. */
export async function recentPasswordHashes(db: Db, account: AccountRow, historySize: number): Promise<string[]> {
  const history = await db
    .selectFrom('password_history')
    .select('password_hash')
    .where('account_id', '=', account.id)
    .orderBy('id', 'desc')
    .limit(historySize)
    .execute();
  return [...(account.password_hash ? [account.password_hash] : []), ...history.map((h) => h.password_hash)];
}

/** Sets a new password hash; the old one joins the history, which keeps `historySize` entries. */
export async function storeNewPassword(trx: Db, account: AccountRow, hash: string, historySize: number): Promise<void> {
  if (account.password_hash) {
    await trx
      .insertInto('password_history')
      .values({ account_id: account.id, password_hash: account.password_hash })
      .execute();
  }
  const keep = await trx
    .selectFrom('password_history')
    .select('id')
    .where('account_id', '=', account.id)
    .orderBy('id', 'desc')
    .limit(historySize)
    .execute();
  await trx
    .deleteFrom('password_history')
    .where('account_id', '=', account.id)
    .where('id', 'not in', keep.length ? keep.map((k) => k.id) : ['0'])
    .execute();
  await trx
    .updateTable('accounts')
    .set({ password_hash: hash, password_changed_at: new Date(), updated_at: new Date() })
    .where('id', '=', account.id)
    .execute();
}
