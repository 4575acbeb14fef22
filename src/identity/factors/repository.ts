import type { Db } from '../../db/database.js';
import type { MfaFactorRow } from '../../db/schema.js';

export type FactorKind = MfaFactorRow['kind'];

/** The account's second factor in use, if it has one (at most one is active at a time). */
export async function activeFactor(db: Db, accountId: string): Promise<MfaFactorRow | undefined> {
  return db
    .selectFrom('mfa_factors')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('state', '=', 'active')
    .executeTakeFirst();
}

/** The factor being set up (at most one), before the user has proved it works. */
export async function pendingFactor(db: Db, accountId: string, kind: FactorKind): Promise<MfaFactorRow | undefined> {
  return db
    .selectFrom('mfa_factors')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('kind', '=', kind)
    .where('state', '=', 'pending')
    .executeTakeFirst();
}

/** Starts a new setup; an unfinished earlier one is dropped. */
export async function insertPendingFactor(
  db: Db,
  accountId: string,
  kind: FactorKind,
  secretSealed: string | null,
): Promise<string> {
  await db.deleteFrom('mfa_factors').where('account_id', '=', accountId).where('state', '=', 'pending').execute();
  const row = await db
    .insertInto('mfa_factors')
    .values({ account_id: accountId, kind, state: 'pending', secret_sealed: secretSealed })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/**
 * Makes a pending factor the account's factor and drops every other one. Returns false when the
 * factor is no longer pending (a double submit, or a setup started again elsewhere).
 */
export async function activatePendingFactor(trx: Db, accountId: string, factorId: string): Promise<boolean> {
  const row = await trx
    .updateTable('mfa_factors')
    .set({ state: 'active', confirmed_at: new Date() })
    .where('id', '=', factorId)
    .where('account_id', '=', accountId)
    .where('state', '=', 'pending')
    .returning('id')
    .executeTakeFirst();
  if (!row) return false;
  await trx.deleteFrom('mfa_factors').where('account_id', '=', accountId).where('id', '!=', factorId).execute();
  return true;
}

export async function deleteFactors(trx: Db, accountId: string): Promise<number> {
  const result = await trx.deleteFrom('mfa_factors').where('account_id', '=', accountId).executeTakeFirst();
  return Number(result.numDeletedRows);
}
