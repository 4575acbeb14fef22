import { enqueueAccountMail } from '../../courier/outbox.js';
import type { Db } from '../../db/database.js';
import type { AccountRow, MfaFactorRow } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import type { RequestMeta } from '../../request-meta.js';
import { recordAudit } from '../../security/audit.js';
import type { SecondFactorThrottle } from '../../security/rate-limit/second-factor-throttle.js';
import type { KeyList } from '../../security/master-secret.js';
import type { SecretBox } from '../../security/secret-box.js';
import { endAccountAccess, type SessionRevoker } from '../accounts/access.js';
import { findAccountById } from '../accounts/repository.js';
import { remainingRecoveryCodes, replaceRecoveryCodes, useRecoveryCode } from './recovery-codes.js';
import { forgetAllBrowsers } from './remembered-browsers.js';
import { activatePendingFactor, deleteFactors, insertPendingFactor, type FactorKind } from './repository.js';
import { claimTotpStep, newTotpSecret, totpStepFor } from './totp.js';

/** What enrolling, checking and removing second factors needs. */
export interface MfaDeps {
  db: Db;
  box: SecretBox;
  recoveryKey: KeyList;
  mailQueued: () => void;
  revoker: SessionRevoker;
}

/** A TOTP code for this factor: valid now, and its time step not used before (atomic). */
async function verifyTotp(deps: MfaDeps, factor: MfaFactorRow, code: string): Promise<boolean> {
  if (factor.kind !== 'totp' || !factor.secret_sealed) return false;
  const step = totpStepFor(deps.box, factor.account_id, factor.secret_sealed, code);
  return step !== undefined && claimTotpStep(deps.db, factor.id, step);
}

/** An authenticator code (for `factor`) or one of the account's recovery codes. */
export type SecondFactorProof = { totp: string } | { recoveryCode: string };

/** How refusals go into the audit log: throttling always, a wrong proof when `wrong` (not during a setup). */
export interface ProofAudit {
  wrong: boolean;
  details?: Record<string, unknown>;
}

/**
 * Checks a second factor. The attempt is counted first (TOO_MANY_ATTEMPTS once used up), so
 * parallel guesses cannot get past the limit; a right one clears the account's count. A wrong
 * one throws MFA_CODE_WRONG or RECOVERY_CODE_WRONG. With `audit`, refusals are recorded as
 * mfa.throttled or mfa.failed.
 */
export async function proveSecondFactor(
  deps: MfaDeps,
  throttle: SecondFactorThrottle,
  factor: MfaFactorRow,
  proof: SecondFactorProof,
  meta: RequestMeta,
  audit?: ProofAudit,
): Promise<void> {
  try {
    await throttle.begin(factor.account_id, meta.ip);
    const right =
      'totp' in proof
        ? await verifyTotp(deps, factor, proof.totp)
        : await spendRecoveryCode(deps, factor.account_id, proof.recoveryCode);
    if (!right) throw new AppError('totp' in proof ? 'MFA_CODE_WRONG' : 'RECOVERY_CODE_WRONG');
  } catch (err) {
    if (audit && err instanceof AppError) await auditRefusal(deps, factor, proof, err, audit, meta);
    throw err;
  }
  await throttle.succeeded(factor.account_id);
}

/** A recovery code, used up; the owner is told at once, with how many are left. */
async function spendRecoveryCode(deps: MfaDeps, accountId: string, code: string): Promise<boolean> {
  const used = await deps.db.transaction().execute(async (trx) => {
    if (!(await useRecoveryCode(trx, deps.recoveryKey, accountId, code))) return false;
    const account = await findAccountById(trx, accountId);
    if (account) {
      const remaining = await remainingRecoveryCodes(trx, accountId);
      await enqueueAccountMail(trx, deps.box, account, 'security-notice', { notice: 'recoveryCodeUsed', remaining });
    }
    return true;
  });
  if (used) deps.mailQueued();
  return used;
}

async function auditRefusal(
  deps: MfaDeps,
  factor: MfaFactorRow,
  proof: SecondFactorProof,
  err: AppError,
  audit: ProofAudit,
  meta: RequestMeta,
): Promise<void> {
  if (err.code === 'TOO_MANY_ATTEMPTS') {
    await recordAudit(
      deps.db,
      { type: 'mfa.throttled', accountId: factor.account_id, ...(audit.details ? { details: audit.details } : {}) },
      meta,
    );
  } else if (audit.wrong) {
    const kind = 'totp' in proof ? 'totp' : 'recovery_code';
    await recordAudit(
      deps.db,
      { type: 'mfa.failed', accountId: factor.account_id, details: { kind, ...audit.details } },
      meta,
    );
  }
}

/** Starts setting up an authenticator app: a new secret, pending until a code proves it. */
export async function startTotpSetup(deps: MfaDeps, account: AccountRow): Promise<string> {
  const secret = newTotpSecret(deps.box, account.id, account.email);
  return insertPendingFactor(deps.db, account.id, 'totp', secret.sealed);
}

/** Starts setting up Duo: pending until Duo approves the user once. */
export async function startDuoSetup(deps: MfaDeps, account: AccountRow): Promise<string> {
  return insertPendingFactor(deps.db, account.id, 'duo', null);
}

/**
 * PR5: the factor proved itself, so it becomes the account's second factor; ten new recovery
 * codes are made (returned: the only time they exist in clear), the change is audited and the
 * account's address gets a notice. Every other session of the account ends (`keepSession` is the
 * one making the change). Undefined when the setup was already finished or replaced.
 */
export async function finishSetup(
  deps: MfaDeps,
  account: AccountRow,
  factor: { id: string; kind: FactorKind },
  meta: RequestMeta,
  keepSession: string | undefined,
): Promise<string[] | undefined> {
  const codes = await deps.db.transaction().execute(async (trx) => {
    if (!(await activatePendingFactor(trx, account.id, factor.id))) return undefined;
    const fresh = await replaceRecoveryCodes(trx, deps.recoveryKey, account.id);
    await recordAudit(trx, { type: 'mfa.enabled', accountId: account.id, details: { kind: factor.kind } }, meta);
    await enqueueAccountMail(trx, deps.box, account, 'mfa-enabled', { kind: factor.kind });
    // Sessions that passed the old factor (or none) end with the change, durably (issue 11 item 8).
    await endAccountAccess(trx, account.id, { keepSession, sessionsOnly: true });
    return fresh;
  });
  if (codes) {
    deps.mailQueued();
    await deps.revoker.cleanUp(account.id);
  }
  return codes;
}

/** Ten new recovery codes; the old ones stop working. The owner gets a notice. */
export async function renewRecoveryCodes(deps: MfaDeps, account: AccountRow, meta: RequestMeta): Promise<string[]> {
  const codes = await deps.db.transaction().execute(async (trx) => {
    const fresh = await replaceRecoveryCodes(trx, deps.recoveryKey, account.id);
    await recordAudit(trx, { type: 'mfa.recovery_codes_renewed', accountId: account.id }, meta);
    await enqueueAccountMail(trx, deps.box, account, 'security-notice', { notice: 'recoveryCodesRenewed' });
    return fresh;
  });
  deps.mailQueued();
  return codes;
}

/**
 * PR5: MFA off. Factors, recovery codes and remembered browsers go; audited, with a notice mail;
 * every other session of the account ends (`keepSession`: the one that turned it off).
 */
export async function turnOffMfa(
  deps: MfaDeps,
  account: AccountRow,
  meta: RequestMeta,
  keepSession: string | undefined,
): Promise<boolean> {
  const removed = await deps.db.transaction().execute(async (trx) => {
    const factors = await deleteFactors(trx, account.id);
    await trx.deleteFrom('recovery_codes').where('account_id', '=', account.id).execute();
    await forgetAllBrowsers(trx, account.id);
    if (factors === 0) return false;
    await recordAudit(trx, { type: 'mfa.disabled', accountId: account.id }, meta);
    await enqueueAccountMail(trx, deps.box, account, 'mfa-disabled');
    await endAccountAccess(trx, account.id, { keepSession, sessionsOnly: true });
    return true;
  });
  if (removed) {
    deps.mailQueued();
    await deps.revoker.cleanUp(account.id);
  }
  return removed;
}

/**
 * An admin removes the second factor of an account whose owner lost it (phone and recovery codes
 * gone): factors, recovery codes and remembered browsers go, every session ends, the owner is
 * mailed and it is audited with the admin as actor, in one transaction. The owner then logs in
 * with the password alone and may turn MFA on again. False when there was no second factor.
 */
export async function removeMfaByAdmin(
  deps: Pick<MfaDeps, 'db' | 'box' | 'revoker'> & { mailQueued?: () => void },
  accountId: string,
  actor: string,
  meta?: RequestMeta,
  companyId?: string,
): Promise<boolean> {
  const removed = await deps.db.transaction().execute(async (trx) => {
    const account = await trx
      .selectFrom('accounts')
      .selectAll()
      .where('id', '=', accountId)
      .forUpdate()
      .executeTakeFirst();
    if (!account) throw new AppError('NOT_FOUND');
    const factors = await deleteFactors(trx, account.id);
    const codes = await trx.deleteFrom('recovery_codes').where('account_id', '=', account.id).executeTakeFirst();
    // Passkeys and security keys are second factors too (issue 17): an owner who lost the phone
    // may have lost the passkey on it, and whoever holds it must not keep a way in.
    const passkeys = await trx
      .deleteFrom('webauthn_credentials')
      .where('account_id', '=', account.id)
      .returning(['id'])
      .execute();
    await forgetAllBrowsers(trx, account.id);
    if (factors === 0 && Number(codes.numDeletedRows) === 0 && passkeys.length === 0) return false;
    await recordAudit(
      trx,
      {
        type: 'admin.user.mfa_removed',
        accountId: account.id,
        actor,
        companyId: companyId ?? null,
        details: { by: actor, passkeys: passkeys.length },
      },
      meta,
    );
    for (const passkey of passkeys) {
      await recordAudit(
        trx,
        { type: 'passkey.removed', accountId: account.id, actor, details: { passkey: passkey.id, by: actor } },
        meta,
      );
    }
    await enqueueAccountMail(trx, deps.box, account, 'security-notice', { notice: 'mfaRemovedByAdmin' });
    await endAccountAccess(trx, account.id, { sessionsOnly: true });
    return true;
  });
  if (removed) {
    deps.mailQueued?.();
    await deps.revoker.cleanUp(accountId);
  }
  return removed;
}
