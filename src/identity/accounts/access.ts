import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import { forgetAllBrowsers } from '../factors/remembered-browsers.js';

/** Deletes what endAccountAccess ended from oidc-provider's storage (src/oidc/revocation.ts's AccountRevoker). */
export interface SessionRevoker {
  cleanUp(accountId: string): Promise<void>;
}

export interface EndedAccess {
  /** The session that made the change and stays signed in (a second factor set up in the console). */
  keepSession?: string | undefined;
  /** Only sessions end; apps keep their tokens (a new second factor). */
  sessionsOnly?: boolean;
}

/**
 * Ends an account's sessions and, unless `sessionsOnly`, revokes every app's grant (with it the
 * access and refresh tokens) and forgets the browsers remembered for MFA. Call it with the
 * transaction of the change that requires it (a password change or reset, a new status, a new
 * second factor): the rows say revoked from the moment the change is committed, whatever happens
 * to the copies in Redis afterwards (AccountRevoker.cleanUp deletes those), because oidc-provider
 * only uses a session or grant whose row does not say so (src/oidc/adapters/indexing-adapter.ts).
 */
export async function endAccountAccess(trx: Db, accountId: string, ended: EndedAccess = {}): Promise<void> {
  let sessions = trx
    .updateTable('account_sessions')
    .set({ revoked_at: sql<Date>`now()` })
    .where('account_id', '=', accountId)
    .where('revoked_at', 'is', null);
  if (ended.keepSession) sessions = sessions.where('session_id', '!=', ended.keepSession);
  await sessions.execute();
  if (ended.sessionsOnly) return;
  await trx
    .updateTable('account_grants')
    .set({ revoked_at: sql<Date>`now()` })
    .where('account_id', '=', accountId)
    .where('revoked_at', 'is', null)
    .execute();
  // A browser remembered for MFA must pass the second factor again, too.
  await forgetAllBrowsers(trx, accountId);
}

/** Ends one session of the account; false if it is not theirs or already ended. */
export async function endOneSession(db: Db, accountId: string, sessionId: string): Promise<boolean> {
  const result = await db
    .updateTable('account_sessions')
    .set({ revoked_at: sql<Date>`now()` })
    .where('account_id', '=', accountId)
    .where('session_id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Revokes every grant the account gave one app; how many there were. */
/** Revokes every grant of a client being deleted; the accounts it held grants of, for the clean-up. */
export async function revokeClientGrants(db: Db, clientId: string): Promise<string[]> {
  const rows = await db
    .updateTable('account_grants')
    .set({ revoked_at: sql<Date>`now()` })
    .where('client_id', '=', clientId)
    .where('revoked_at', 'is', null)
    .returning('account_id')
    .execute();
  return [...new Set(rows.map((row) => row.account_id))];
}

export async function revokeAppAccess(db: Db, accountId: string, clientId: string): Promise<number> {
  const result = await db
    .updateTable('account_grants')
    .set({ revoked_at: sql<Date>`now()` })
    .where('account_id', '=', accountId)
    .where('client_id', '=', clientId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
