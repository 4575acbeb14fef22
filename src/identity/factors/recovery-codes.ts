import { createHmac, type KeyObject } from 'node:crypto';
import type { Db } from '../../db/database.js';
import { randomCrockford } from '../../security/crockford.js';
import { asKeyList, type KeyList } from '../../security/master-secret.js';

export const RECOVERY_CODE_COUNT = 10;

/** XXXXX-XXXXX: 50 random bits, enough that an HMAC of it can be stored and looked up directly. */
function newCode(): string {
  const code = randomCrockford(10);
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

/** How people type codes: any case, spaces or dashes, O for 0 and I/L for 1. */
export function canonicalRecoveryCode(input: string): string {
  return input.normalize('NFKC').toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

function hmac(key: KeyObject, accountId: string, code: string): string {
  return createHmac('sha256', key)
    .update(`recovery:${accountId}:${canonicalRecoveryCode(code)}`)
    .digest('base64url');
}

/**
 * Replaces the account's recovery codes with 10 new ones and returns them, the only time they
 * exist in clear. Stored as HMACs (X2) under the first key.
 */
export async function replaceRecoveryCodes(db: Db, keys: Buffer | KeyList, accountId: string): Promise<string[]> {
  const { key } = asKeyList(keys)[0];
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newCode);
  await db.deleteFrom('recovery_codes').where('account_id', '=', accountId).execute();
  await db
    .insertInto('recovery_codes')
    .values(codes.map((code) => ({ account_id: accountId, code_hmac: hmac(key, accountId, code) })))
    .execute();
  return codes;
}

/**
 * Uses a recovery code: true once per code, atomically (a parallel second use gets false). Codes
 * made under an older MONBAN_SECRET are looked up with its key too.
 */
export async function useRecoveryCode(
  db: Db,
  keys: Buffer | KeyList,
  accountId: string,
  code: string,
): Promise<boolean> {
  if (canonicalRecoveryCode(code).length !== 10) return false;
  const candidates = asKeyList(keys).map(({ key }) => hmac(key, accountId, code));
  const row = await db
    .updateTable('recovery_codes')
    .set({ used_at: new Date() })
    .where('account_id', '=', accountId)
    .where('code_hmac', 'in', candidates)
    .where('used_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function remainingRecoveryCodes(db: Db, accountId: string): Promise<number> {
  const row = await db
    .selectFrom('recovery_codes')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('account_id', '=', accountId)
    .where('used_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
