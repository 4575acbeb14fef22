import type { Config } from '../../config/schema.js';
import { enqueueAccountMail } from '../../courier/outbox.js';
import type { Db } from '../../db/database.js';
import type { AccountRow } from '../../db/schema.js';
import { FormError } from '../../errors.js';
import type { RequestMeta } from '../../request-meta.js';
import { endAccountAccess, type SessionRevoker } from '../accounts/access.js';
import { recordAudit, type AuditEvent } from '../../security/audit.js';
import type { SecretBox } from '../../security/secret-box.js';
import type { PasswordHasher } from './hashing.js';
import { recentPasswordHashes, storeNewPassword } from './history.js';
import type { PasswordPolicy } from './policy.js';

export interface PasswordReplaceDeps {
  config: Readonly<Config>;
  db: Db;
  box: SecretBox;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  revoker: SessionRevoker;
  mailQueued: () => void;
}

export interface PasswordReplacement {
  password: string;
  confirmation: string;
  /** A reset by a verified code: the minimum age applies only if the policy says so (PW5). */
  isReset: boolean;
  /** The audit event that says why (password.changed, password.reset). */
  audit: AuditEvent;
  /** More work for the same transaction (e.g. closing the reset flow); a throw undoes it all. */
  alongside?: (trx: Db) => Promise<void>;
}

/**
 * Every place an account gets a new password (the console's change PR4, the reset R2): the
 * whole policy (FormError with every broken rule), then in one transaction the new hash, the
 * history, the audit event, a notice mail and the end of every session and app's tokens; then
 * those are deleted from storage.
 */
export async function replacePassword(
  deps: PasswordReplaceDeps,
  account: AccountRow,
  change: PasswordReplacement,
  meta?: RequestMeta,
): Promise<void> {
  const { historySize } = deps.config.passwordPolicy;
  const problems = await deps.policy.problems(change.password, {
    email: account.email,
    confirmation: change.confirmation,
    previousHashes: await recentPasswordHashes(deps.db, account, historySize),
    passwordChangedAt: account.password_changed_at,
    isReset: change.isReset,
  });
  if (problems.length) throw new FormError(problems);
  const hash = await deps.hasher.hash(change.password);
  await deps.db.transaction().execute(async (trx) => {
    await change.alongside?.(trx);
    await storeNewPassword(trx, account, hash, historySize);
    await recordAudit(trx, change.audit, meta);
    await enqueueAccountMail(trx, deps.box, account, 'password-changed');
    // Every session and app ends with the old password, durably (issue 11 item 8).
    await endAccountAccess(trx, account.id);
  });
  deps.mailQueued();
  await deps.revoker.cleanUp(account.id);
}
