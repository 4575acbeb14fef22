import type { Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { sameSecret } from '../constant-time.js';

/**
 * A logout the user confirmed (RP-Initiated Logout 1.0, the end-session confirmation form) ends
 * the session even when the request fails on its way. oidc-provider first revokes the session's
 * grants in Redis and only then destroys the session; should Redis be lost in between, the user
 * gets the outage page, and without this the session would still sign them in. When the form
 * passed oidc-provider's own check (its xsrf value is the session's), the session is ended in
 * PostgreSQL, which every later use of it consults, before the error goes on to the error page.
 */
export function confirmedLogoutEndsSession(end: (sessionId: string) => Promise<void>) {
  const endIfConfirmed = async (ctx: KoaContextWithOIDC): Promise<void> => {
    // Not every request reaches oidc-provider's routes: then it has set no context.
    const oidc = ctx.oidc as KoaContextWithOIDC['oidc'] | undefined;
    const session = oidc?.route === 'end_session_confirm' ? oidc.session : undefined;
    const params = oidc?.params ?? {};
    if (!session || !params.logout || !sameSecret(session.state?.secret, params.xsrf)) return;
    // The original failure is what the error page reports; a second one here changes nothing.
    await end(session.jti).catch(() => undefined);
  };
  return async (ctx: KoaContextWithOIDC, next: Next): Promise<void> => {
    try {
      await next();
    } catch (err) {
      await endIfConfirmed(ctx);
      throw err;
    }
    // oidc-provider answers its own failures (renderError): the outage page, with a 5xx status.
    if (ctx.status >= 500) await endIfConfirmed(ctx);
  };
}
