import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { enqueueAccountMail } from '../../courier/outbox.js';
import type { Db } from '../../db/database.js';
import type { AccountRow } from '../../db/schema.js';
import { recordAudit } from '../../security/audit.js';
import { credentialSubject, type CredentialThrottle } from '../../security/rate-limit/credential-throttle.js';
import type { SecretBox } from '../../security/secret-box.js';
import type { RequestMeta } from '../../request-meta.js';

/**
 * The hard lock of NIST 800-63B 5.2.2: after `rateLimits.accountLock.failures` wrong passwords
 * in a row, no password of the account is checked until it is unlocked. The lock is kept in
 * PostgreSQL (an emptied Redis must not lift it, issue 11 item 16); the counting itself is the
 * credential throttle's. The owner gets a mail with a link that unlocks it: what they have and
 * a stranger guessing the password does not.
 */
export interface AccountLockDeps {
  db: Db;
  box: SecretBox;
  credentialThrottle: CredentialThrottle;
  mailQueued: () => void;
}

const hashOf = (token: string) => createHash('sha256').update(token).digest('base64url');

/**
 * The attempt that reached the limit was wrong: the account locks, its owner is mailed the link
 * and the lock is audited, in one transaction. For an address or ID without an account there is
 * nothing to lock (its counter refuses from now on); it gets the same audit row, so both cost
 * the same.
 */
export async function lockAccount(
  deps: AccountLockDeps,
  account: AccountRow | undefined,
  failures: number,
  meta?: RequestMeta,
): Promise<void> {
  const mailed = await deps.db.transaction().execute(async (trx) => {
    let locked = false;
    if (account) {
      const token = randomBytes(32).toString('base64url');
      const result = await trx
        .updateTable('accounts')
        .set({ locked_at: sql<Date>`now()`, unlock_token_hash: hashOf(token) })
        .where('id', '=', account.id)
        .where('locked_at', 'is', null)
        .executeTakeFirst();
      locked = Number(result.numUpdatedRows) > 0;
      if (locked) await enqueueAccountMail(trx, deps.box, account, 'account-locked', { token, failures });
    }
    await recordAudit(trx, { type: 'account.locked', accountId: account?.id ?? null, details: { failures } }, meta);
    return locked;
  });
  if (mailed) deps.mailQueued();
}

/** Lifts the lock inside a transaction (a reset does it with the new password); true if it was locked. */
export async function releaseLock(trx: Db, accountId: string): Promise<boolean> {
  const result = await trx
    .updateTable('accounts')
    .set({ locked_at: null, unlock_token_hash: null })
    .where('id', '=', accountId)
    .where('locked_at', 'is not', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Unlocks an account: the lock goes, and its run of failures and its count from anywhere start
 * again. `by` says who did it, for the audit log ('owner' through the mailed link, 'cli', an
 * admin client's client_id: the event's actor). False when the account was not locked.
 */
export async function unlockAccount(
  deps: Pick<AccountLockDeps, 'db' | 'credentialThrottle'>,
  accountId: string,
  by: string,
  meta?: RequestMeta,
): Promise<boolean> {
  const unlocked = await deps.db.transaction().execute(async (trx) => {
    if (!(await releaseLock(trx, accountId))) return false;
    await recordAudit(
      trx,
      { type: 'account.unlocked', accountId, actor: by === 'owner' ? null : by, details: { by } },
      meta,
    );
    return true;
  });
  // Also when it was not locked in PostgreSQL: a run of failures may have been left in the counters.
  await deps.credentialThrottle.clear(credentialSubject({ id: accountId }, ''));
  return unlocked;
}

/** The owner's unlock link: the account it was mailed for, if the link still works (it works once). */
export async function unlockWithToken(
  deps: Pick<AccountLockDeps, 'db' | 'credentialThrottle'>,
  token: string,
  meta?: RequestMeta,
): Promise<boolean> {
  if (!/^[\w-]{43}$/.test(token)) return false;
  const account = await deps.db
    .selectFrom('accounts')
    .select('id')
    .where('unlock_token_hash', '=', hashOf(token))
    .executeTakeFirst();
  return account ? unlockAccount(deps, account.id, 'owner', meta) : false;
}
