import type { Context } from 'koa';
import { enqueueAccountMail } from '../../courier/outbox.js';
import type { Db } from '../../db/database.js';
import type { AccountRow, MfaFactorRow } from '../../db/schema.js';
import { AppError } from '../../http/errors.js';
import { recordAudit } from '../../security/audit.js';
import type { SecondFactorThrottle } from '../../security/rate-limit/second-factor-throttle.js';
import type { SecretBox } from '../../security/secret-box.js';
import { replaceRecoveryCodes, useRecoveryCode } from './recovery-codes.js';
import { forgetAllBrowsers } from './remembered-browsers.js';
import { activatePendingFactor, deleteFactors, insertPendingFactor, type FactorKind } from './repository.js';
import { claimTotpStep, newTotpSecret, totpStepFor } from './totp.js';

/** What enrolling, checking and removing second factors needs. */
export interface MfaDeps {
  db: Db;
  box: SecretBox;
  recoveryKey: Buffer;
  mailQueued: () => void;
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
  ctx?: Context | undefined;
  wrong: boolean;
  details?: Record<string, unknown>;
}

/**
 * Checks a second factor. The attempt is counted first (TOO_MANY_ATTEMPTS once used up), so
 * parallel guesses cannot get past the limit; a right one clears the account's count. A wrong
 * one throws MFA_CODE_WRONG or RECOVERY_CODE_WRONG. With `audit`, refusals are recorded as
 * mfa.throttled or mfa.failed.
 */
export async function proveSecondFactor(deps: MfaDeps, throttle: SecondFactorThrottle, factor: MfaFactorRow,
  proof: SecondFactorProof, ip: string, audit?: ProofAudit): Promise<void> {
  try {
    await throttle.begin(factor.account_id, ip);
    const right = 'totp' in proof
      ? await verifyTotp(deps, factor, proof.totp)
      : await useRecoveryCode(deps.db, deps.recoveryKey, factor.account_id, proof.recoveryCode);
    if (!right) throw new AppError('totp' in proof ? 'MFA_CODE_WRONG' : 'RECOVERY_CODE_WRONG', 401);
  } catch (err) {
    if (audit && err instanceof AppError) await auditRefusal(deps, factor, proof, err, audit);
    throw err;
  }
  await throttle.succeeded(factor.account_id);
}

async function auditRefusal(deps: MfaDeps, factor: MfaFactorRow, proof: SecondFactorProof, err: AppError, audit: ProofAudit): Promise<void> {
  if (err.code === 'TOO_MANY_ATTEMPTS') {
    await recordAudit(deps.db, { type: 'mfa.throttled', accountId: factor.account_id, ...(audit.details ? { details: audit.details } : {}) }, audit.ctx);
  } else if (audit.wrong) {
    const kind = 'totp' in proof ? 'totp' : 'recovery_code';
    await recordAudit(deps.db, { type: 'mfa.failed', accountId: factor.account_id, details: { kind, ...audit.details } }, audit.ctx);
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
 * account's address gets a notice. Undefined when the setup was already finished or replaced.
 */
export async function finishSetup(deps: MfaDeps, account: AccountRow, factor: { id: string; kind: FactorKind }, ctx: Context): Promise<string[] | undefined> {
  const codes = await deps.db.transaction().execute(async (trx) => {
    if (!(await activatePendingFactor(trx, account.id, factor.id))) return undefined;
    const fresh = await replaceRecoveryCodes(trx, deps.recoveryKey, account.id);
    await recordAudit(trx, { type: 'mfa.enabled', accountId: account.id, details: { kind: factor.kind } }, ctx);
    await enqueueAccountMail(trx, deps.box, account, 'mfa-enabled', { kind: factor.kind });
    return fresh;
  });
  if (codes) deps.mailQueued();
  return codes;
}

/** Ten new recovery codes; the old ones stop working. */
export async function renewRecoveryCodes(deps: MfaDeps, account: AccountRow, ctx: Context): Promise<string[]> {
  return deps.db.transaction().execute(async (trx) => {
    const codes = await replaceRecoveryCodes(trx, deps.recoveryKey, account.id);
    await recordAudit(trx, { type: 'mfa.recovery_codes_renewed', accountId: account.id }, ctx);
    return codes;
  });
}

/** PR5: MFA off. Factors, recovery codes and remembered browsers go; audited, with a notice mail. */
export async function turnOffMfa(deps: MfaDeps, account: AccountRow, ctx: Context): Promise<boolean> {
  const removed = await deps.db.transaction().execute(async (trx) => {
    const factors = await deleteFactors(trx, account.id);
    await trx.deleteFrom('recovery_codes').where('account_id', '=', account.id).execute();
    await forgetAllBrowsers(trx, account.id);
    if (factors === 0) return false;
    await recordAudit(trx, { type: 'mfa.disabled', accountId: account.id }, ctx);
    await enqueueAccountMail(trx, deps.box, account, 'mfa-disabled');
    return true;
  });
  if (removed) deps.mailQueued();
  return removed;
}
