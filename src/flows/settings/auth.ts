import { createHash, randomBytes } from 'node:crypto';
import type { Context, Next } from 'koa';
import { findAccountById } from '../../identity/accounts/repository.js';
import { ACCOUNT_CLIENT_ID } from '../../oidc/account-client.js';
import { seeOther, setSignedCookie, takeSignedCookie } from '../../http/page.js';
import type { SettingsDeps, SignedInContext } from './context.js';

const STATE_COOKIE = 'monban_account_state';

/**
 * The console page a login should end on: a path under /account, nothing else (an open redirect
 * otherwise). The login pages themselves are no destination.
 */
export function consoleReturnPath(value: unknown): string {
  if (typeof value !== 'string' || value.length > 512) return '/account';
  const url = new URL(value, 'http://x');
  const inConsole =
    url.origin === 'http://x' &&
    ['/account', '/company'].some((root) => url.pathname === root || url.pathname.startsWith(`${root}/`));
  const loginStep = ['/account/login', '/account/callback', '/account/logged-out'].includes(url.pathname);
  return inConsole && !loginStep ? `${url.pathname}${url.search}` : '/account';
}

/**
 * Signs the user in to the console through Monban's own authorization endpoint (the console is
 * a first-party RP): the login pages, throttles and MFA all apply, and the session is shared.
 */
export function startLogin(ctx: Context, deps: SettingsDeps, returnTo = '/account'): void {
  const state = randomBytes(16).toString('base64url');
  // The page asked for comes back with the state: a deep link survives the login.
  setSignedCookie(
    ctx,
    deps.config,
    STATE_COOKIE,
    `${state}.${Buffer.from(consoleReturnPath(returnTo)).toString('base64url')}`,
    {
      path: '/account',
      maxAgeMs: deps.config.ttl.interaction * 1000,
    },
  );
  const url = new URL(`${deps.config.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: ACCOUNT_CLIENT_ID,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: `${deps.config.issuer}/account/callback`,
    state,
    // PKCE is required of every client; the console relies on the shared session, not the code.
    code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
    code_challenge_method: 'S256',
    ...(typeof ctx.query.lang === 'string' ? { ui_locales: ctx.query.lang } : {}),
  }).toString();
  seeOther(ctx, url.toString());
}

/** The login came back: check it is the one this browser started, then open the page asked for. */
export function finishLogin(ctx: Context): void {
  const [expected, returnTo = ''] = (takeSignedCookie(ctx, STATE_COOKIE, '/account') ?? '').split('.');
  const ours = Boolean(expected) && ctx.query.state === expected && Boolean(ctx.query.code);
  seeOther(ctx, ours ? consoleReturnPath(Buffer.from(returnTo, 'base64url').toString()) : '/account/login');
}

/** Pages behind it need a signed-in, active account; anyone else goes to the login. */
export function requireSignIn(deps: SettingsDeps) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const session = await deps.provider.Session.get(ctx);
    const account = session.accountId ? await findAccountById(deps.db, session.accountId) : undefined;
    if (!account || account.status !== 'active') {
      if (ctx.method !== 'GET') {
        return seeOther(ctx, '/account/login');
      }
      return startLogin(ctx, deps, ctx.originalUrl);
    }
    (ctx as SignedInContext).state.signedIn = { account, sessionId: session.jti };
    ctx.set('cache-control', 'no-store');
    await next();
  };
}

/** Ends the shared session: the console and single sign-on for every app. */
export async function logout(ctx: Context, deps: SettingsDeps): Promise<void> {
  const session = await deps.provider.Session.get(ctx);
  if (session.accountId) await session.destroy();
  seeOther(ctx, '/account/logged-out');
}
