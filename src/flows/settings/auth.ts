import { createHash, randomBytes } from 'node:crypto';
import type { Context, Next } from 'koa';
import { findAccountById } from '../../identity/accounts/repository.js';
import { ACCOUNT_CLIENT_ID } from '../../oidc/account-client.js';
import { seeOther, setSignedCookie, takeSignedCookie } from '../../http/page.js';
import type { SettingsDeps, SignedInContext } from './context.js';

const STATE_COOKIE = 'monban_account_state';

/**
 * Signs the user in to the console through Monban's own authorization endpoint (the console is
 * a first-party RP): the login pages, throttles and MFA all apply, and the session is shared.
 */
export function startLogin(ctx: Context, deps: SettingsDeps): void {
  const state = randomBytes(16).toString('base64url');
  setSignedCookie(ctx, deps.config, STATE_COOKIE, state, { path: '/account', maxAgeMs: deps.config.ttl.interaction * 1000 });
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

/** The login came back: check it is the one this browser started, then open the console. */
export function finishLogin(ctx: Context): void {
  const expected = takeSignedCookie(ctx, STATE_COOKIE, '/account');
  seeOther(ctx, expected && ctx.query.state === expected && ctx.query.code ? '/account' : '/account/login');
}

/** Pages behind it need a signed-in, active account; anyone else goes to the login. */
export function requireSignIn(deps: SettingsDeps) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const session = await deps.provider.Session.get(ctx as never);
    const account = session.accountId ? await findAccountById(deps.db, session.accountId) : undefined;
    if (!account || account.status !== 'active') {
      if (ctx.method !== 'GET') {
        return seeOther(ctx, '/account/login');
      }
      return startLogin(ctx, deps);
    }
    (ctx as SignedInContext).state.signedIn = { account, sessionId: session.jti };
    ctx.set('cache-control', 'no-store');
    await next();
  };
}

/** Ends the shared session: the console and single sign-on for every app. */
export async function logout(ctx: Context, deps: SettingsDeps): Promise<void> {
  const session = await deps.provider.Session.get(ctx as never);
  if (session.accountId) await session.destroy();
  seeOther(ctx, '/account/logged-out');
}
