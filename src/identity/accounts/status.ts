import type { Db } from '../../db/database.js';
import type { AccountStatus } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import type { RequestMeta } from '../../request-meta.js';
import { recordAudit, type AuditType } from '../../security/audit.js';
import { endAccountAccess, type SessionRevoker } from './access.js';

/** What an admin may set: an account that may log in, one on hold (M4), one disabled. */
export type SettableStatus = Extract<AccountStatus, 'active' | 'on_hold' | 'disabled'>;

export interface StatusChange {
  status: SettableStatus;
  /** Who changes it, for the audit log (its actor): 'cli', an admin client's client_id, later a company admin. */
  by: string;
  reason?: string | undefined;
  /** The company whose admin changes it (its admins' audit page shows the event). */
  companyId?: string | undefined;
}

export interface StatusDeps {
  db: Db;
  revoker: SessionRevoker;
}

function auditType(from: AccountStatus, to: SettableStatus): AuditType {
  if (to === 'disabled') return 'account.disabled';
  if (to === 'on_hold') return 'account.held';
  return from === 'on_hold' ? 'account.released' : 'account.enabled';
}

/**
 * Sets an account's status: disable, enable, put on hold (M4), release. Putting it on hold or
 * disabling it ends every session of the account and revokes every app's grant and tokens, in
 * the same transaction as the change and its audit event (issue 11 items 5, 8): from the commit
 * on, its tokens are inactive at introspection, userinfo and refresh, and a browser holding one
 * of its sessions gets the login page, where the right password is answered with the general
 * on-hold or disabled message (L5). The one operation the admin CLI, the admin API and company
 * admins call. Throws NOT_FOUND for an unknown account.
 */
export async function setAccountStatus(
  deps: StatusDeps,
  accountId: string,
  change: StatusChange,
  meta?: RequestMeta,
): Promise<{ changed: boolean; from: AccountStatus; to: SettableStatus }> {
  const from = await deps.db.transaction().execute((trx) => applyAccountStatus(trx, accountId, change, meta));
  const changed = from !== change.status;
  if (changed && change.status !== 'active') await deps.revoker.cleanUp(accountId);
  return { changed, from, to: change.status };
}

/**
 * setAccountStatus's work inside a transaction the caller holds (an email change puts the account
 * on hold with its other writes, and releases it with the new address): the row locked, the
 * status set, sessions and tokens ended unless it becomes active, the audit row. Returns the
 * status before. The caller runs revoker.cleanUp after the commit when the account was held.
 */
export async function applyAccountStatus(
  trx: Db,
  accountId: string,
  change: StatusChange,
  meta?: RequestMeta,
): Promise<AccountStatus> {
  const current = await trx
    .selectFrom('accounts')
    .select('status')
    .where('id', '=', accountId)
    .forUpdate()
    .executeTakeFirst();
  if (!current) throw new AppError('NOT_FOUND');
  if (current.status === change.status) return current.status;
  await trx
    .updateTable('accounts')
    .set({ status: change.status, updated_at: new Date() })
    .where('id', '=', accountId)
    .execute();
  if (change.status !== 'active') await endAccountAccess(trx, accountId);
  await recordAudit(
    trx,
    {
      type: auditType(current.status, change.status),
      accountId,
      actor: change.by,
      companyId: change.companyId ?? null,
      details: {
        from: current.status,
        to: change.status,
        by: change.by,
        ...(change.reason ? { reason: change.reason } : {}),
      },
    },
    meta,
  );
  return current.status;
}
