import type { Context } from 'koa';
import { z } from 'zod';
import { password } from '../../http/form.js';
import { AppError } from '../../errors.js';
import { setSignedCookie } from '../../http/page.js';
import { checkPassword } from '../../identity/password/credential-check.js';
import { recordAudit } from '../../security/audit.js';
import type { SettingsDeps, SignedIn } from './context.js';
import { requestMeta } from '../../http/request-meta.js';

const REAUTH_COOKIE = 'monban_reauth';

/** A console form that asks for the current password (PR3); other forms extend it. */
export const reauthForm = z.object({ current_password: password() });

/**
 * What this request already decided (a password just confirmed, or the re-authentication just
 * cleared). The cookie read below is the one the browser sent, which setting or clearing it in
 * this same request does not change.
 */
function decidedNow(ctx: Context): boolean | undefined {
  return (ctx.state as { reauthFresh?: boolean }).reauthFresh;
}

/**
 * PR3: security changes need the password again. A right password is good for
 * account.reauthSeconds, for this account in this session only (signed cookie).
 */
export function hasFreshReauth(ctx: Context, deps: SettingsDeps, signedIn: SignedIn): boolean {
  const decided = decidedNow(ctx);
  if (decided !== undefined) return decided;
  const value = ctx.cookies.get(REAUTH_COOKIE, { signed: true });
  if (!value) return false;
  const [accountId, sessionId, at] = value.split('.');
  if (accountId !== signedIn.account.id || sessionId !== signedIn.sessionId) return false;
  return Date.now() - Number(at) < deps.config.account.reauthSeconds * 1000;
}

export function clearReauth(ctx: Context): void {
  ctx.cookies.set(REAUTH_COOKIE, null, { path: '/account' });
  (ctx.state as { reauthFresh?: boolean }).reauthFresh = false;
}

/**
 * Checks the password typed into a security form, unless a recent one still counts. Throttled
 * like the login (a stolen session must not become a password oracle). `missing` is the problem
 * when none was typed: on the security page the password is confirmed once at the top of the
 * page (REAUTH_REQUIRED), not in each row's form.
 */
export async function confirmPassword(
  ctx: Context,
  deps: SettingsDeps,
  signedIn: SignedIn,
  password: string,
  missing: 'PASSWORD_REQUIRED' | 'REAUTH_REQUIRED' = 'PASSWORD_REQUIRED',
): Promise<void> {
  if (hasFreshReauth(ctx, deps, signedIn)) return;
  if (!password) throw new AppError(missing);
  const { account } = signedIn;
  const meta = requestMeta(ctx, deps.config);
  const attempt = { account, identifier: account.email, password, ip: meta.ip, device: meta.device };
  const right = await checkPassword(deps, attempt, meta);
  if (!right) {
    await recordAudit(deps.db, { type: 'reauth.failed', accountId: account.id }, meta);
    throw new AppError('CURRENT_PASSWORD_WRONG');
  }
  setSignedCookie(ctx, deps.config, REAUTH_COOKIE, `${account.id}.${signedIn.sessionId}.${Date.now()}`, {
    path: '/account',
    maxAgeMs: deps.config.account.reauthSeconds * 1000,
    sameSite: 'strict',
  });
  (ctx.state as { reauthFresh?: boolean }).reauthFresh = true;
}
