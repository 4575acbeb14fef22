import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../../config/schema.js';
import { enqueueAccountMail } from '../../courier/outbox.js';
import type { Db } from '../../db/database.js';
import type { AccountRow } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import type { RequestMeta } from '../../request-meta.js';
import { emailProblem, normalizeEmail } from '../../identity/accounts/email.js';
import { findAccountByEmail } from '../../identity/accounts/repository.js';
import { checkPassword, type CredentialCheckDeps } from '../../identity/password/credential-check.js';
import { recordAudit } from '../../security/audit.js';
import { consumeOrRefuse, limiterKey } from '../../security/rate-limit/limiters.js';
import type { SecretBox } from '../../security/secret-box.js';

export interface ForgotEmailDeps extends CredentialCheckDeps {
  db: Db;
  box: SecretBox;
  config: Readonly<Config>;
  mailQueued: () => void;
  perIp: RateLimiterAbstract;
  perIdentifier: RateLimiterAbstract;
}

/** E1: what the user typed is either a possible email address or an account ID (username). */
export type Identifier = { kind: 'email'; email: string } | { kind: 'accountId'; accountId: string };

export function parseIdentifier(input: string): Identifier {
  const raw = input.trim();
  if (!raw) throw new AppError('IDENTIFIER_REQUIRED');
  if (raw.includes('@')) {
    const problem = emailProblem(raw);
    if (problem) throw new AppError(problem);
    return { kind: 'email', email: normalizeEmail(raw) };
  }
  // Account IDs are Crockford base32: read from paper, they may come in lower case or grouped.
  const accountId = raw.normalize('NFKC').toUpperCase().replace(/[\s-]/g, '');
  if (!/^[0-9A-Z]{1,40}$/.test(accountId)) throw new AppError('ACCOUNT_ID_INVALID');
  return { kind: 'accountId', accountId };
}

async function limit(deps: ForgotEmailDeps, ip: string, identifier: string): Promise<void> {
  await consumeOrRefuse(deps.perIp, limiterKey('forgot-email', ip));
  await consumeOrRefuse(deps.perIdentifier, limiterKey('forgot-email', identifier));
}

async function mailConfirmation(
  deps: ForgotEmailDeps,
  account: AccountRow,
  how: 'email' | 'account_id',
  meta: RequestMeta,
): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    await recordAudit(trx, { type: 'email.looked_up', accountId: account.id, details: { by: how } }, meta);
    await enqueueAccountMail(trx, deps.box, account, 'email-lookup', {
      accountId: account.username,
      byAccountId: how === 'account_id',
    });
  });
  deps.mailQueued();
}

/**
 * E3: a confirmation mail goes to the address if an account uses it. The caller shows the same
 * page either way, and the work is the same as far as it can be (R5's reasoning): one lookup,
 * one transaction with an audit row (without an account for an unknown address), a courier
 * kick; only a match adds its outbox row.
 */
export async function confirmEmailAddress(deps: ForgotEmailDeps, email: string, meta: RequestMeta): Promise<void> {
  await limit(deps, meta.ip, email);
  const account = await findAccountByEmail(deps.db, email);
  if (account && account.status !== 'disabled') return mailConfirmation(deps, account, 'email', meta);
  await deps.db.transaction().execute(async (trx) => {
    await recordAudit(trx, { type: 'email.looked_up', details: { by: 'email' } }, meta);
  });
  deps.mailQueued();
}

/**
 * E2: with an account ID and its password, the registered address (and a confirmation mail to
 * it, so that the owner learns of it). A wrong password and an unknown ID are refused alike,
 * after the same bcrypt work. The password check is the login's (checkPassword): it draws from
 * the same per-account counters, so this page is no way around the login's limits.
 */
export async function revealEmailAddress(
  deps: ForgotEmailDeps,
  accountId: string,
  password: string,
  meta: RequestMeta,
): Promise<string> {
  if (!password) throw new AppError('PASSWORD_REQUIRED');
  await limit(deps, meta.ip, accountId);
  const known = await deps.db.selectFrom('accounts').selectAll().where('username', '=', accountId).executeTakeFirst();
  const attempt = { account: known, identifier: accountId, password, ip: meta.ip, device: meta.device };
  const account = await checkPassword(deps, attempt, meta);
  if (!account || account.status === 'disabled') throw new AppError('ACCOUNT_ID_OR_PASSWORD_WRONG');
  await mailConfirmation(deps, account, 'account_id', meta);
  return account.email;
}
