import type { Context } from 'koa';
import { AppError } from '../../http/errors.js';
import { setSignedCookie } from '../../http/page.js';
import { recordAudit } from '../../security/audit.js';
import type { SettingsDeps, SignedIn } from './context.js';

const REAUTH_COOKIE = 'monban_reauth';

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
 * like the login (a stolen session must not become a password oracle).
 */
export async function confirmPassword(ctx: Context, deps: SettingsDeps, signedIn: SignedIn, password: string): Promise<void> {
  if (hasFreshReauth(ctx, deps, signedIn)) return;
  if (!password) throw new AppError('PASSWORD_REQUIRED');
  const { account } = signedIn;
  await deps.throttle.begin(ctx.ip, account.email);
  const valid = account.password_hash ? await deps.hasher.verify(password, account.password_hash) : false;
  if (!valid) {
    await deps.throttle.failed(ctx.ip, account.email);
    await recordAudit(deps.db, { type: 'reauth.failed', accountId: account.id }, ctx);
    throw new AppError('CURRENT_PASSWORD_WRONG', 401);
  }
  await deps.throttle.succeeded(ctx.ip, account.email);
  setSignedCookie(ctx, deps.config, REAUTH_COOKIE, `${account.id}.${signedIn.sessionId}.${Date.now()}`, {
    path: '/account', maxAgeMs: deps.config.account.reauthSeconds * 1000, sameSite: 'strict',
  });
  (ctx.state as { reauthFresh?: boolean }).reauthFresh = true;
}
