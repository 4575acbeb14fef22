import type { Context } from 'koa';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../../config/schema.js';
import { enqueueAccountMail } from '../../courier/outbox.js';
import type { Db } from '../../db/database.js';
import type { AccountRow } from '../../db/schema.js';
import { AppError } from '../../http/errors.js';
import { emailProblem, normalizeEmail } from '../../identity/accounts/email.js';
import { findAccountByEmail } from '../../identity/accounts/repository.js';
import type { PasswordHasher } from '../../identity/password/hashing.js';
import { recordAudit } from '../../security/audit.js';
import { consumeOrRefuse, limiterKey } from '../../security/rate-limit/limiters.js';
import type { SecretBox } from '../../security/secret-box.js';

export interface ForgotEmailDeps {
  db: Db;
  box: SecretBox;
  config: Readonly<Config>;
  hasher: PasswordHasher;
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

async function mailConfirmation(deps: ForgotEmailDeps, account: AccountRow, how: 'email' | 'account_id', ctx?: Context): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    await recordAudit(trx, { type: 'email.looked_up', accountId: account.id, details: { by: how } }, ctx);
    await enqueueAccountMail(trx, deps.box, account, 'email-lookup', { accountId: account.username, byAccountId: how === 'account_id' });
  });
  deps.mailQueued();
}

/**
 * E3: a confirmation mail goes to the address if an account uses it. The caller shows the same
 * page either way, and the work is the same as far as it can be (R5's reasoning): one lookup,
 * one transaction with an audit row (without an account for an unknown address), a courier
 * kick; only a match adds its outbox row.
 */
export async function confirmEmailAddress(deps: ForgotEmailDeps, email: string, ip: string, ctx?: Context): Promise<void> {
  await limit(deps, ip, email);
  const account = await findAccountByEmail(deps.db, email);
  if (account && account.status !== 'disabled') return mailConfirmation(deps, account, 'email', ctx);
  await deps.db.transaction().execute(async (trx) => {
    await recordAudit(trx, { type: 'email.looked_up', details: { by: 'email' } }, ctx);
  });
  deps.mailQueued();
}

/**
 * E2: with an account ID and its password, the registered address (and a confirmation mail to
 * it, so that the owner learns of it). A wrong password and an unknown ID are refused alike,
 * after the same bcrypt work, and count against the IP and the ID.
 */
export async function revealEmailAddress(deps: ForgotEmailDeps, accountId: string, password: string, ip: string, ctx?: Context): Promise<string> {
  if (!password) throw new AppError('PASSWORD_REQUIRED');
  await limit(deps, ip, accountId);
  const account = await deps.db.selectFrom('accounts').selectAll().where('username', '=', accountId).executeTakeFirst();
  const valid = account?.password_hash
    ? await deps.hasher.verify(password, account.password_hash)
    : await deps.hasher.verifyAgainstNothing(password);
  if (!account || !valid || account.status === 'disabled') throw new AppError('ACCOUNT_ID_OR_PASSWORD_WRONG', 401);
  await mailConfirmation(deps, account, 'account_id', ctx);
  return account.email;
}
