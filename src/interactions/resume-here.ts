import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Interaction } from './interaction-state.js';

/** The part of Koa's cookie jar that signs: oidc-provider's cookie keys (src/security/cookie-signer.ts). */
interface CookieKeys {
  sign(data: string): string;
}

/** What the routers note on a request (for the metrics' and traces' route), given back afterwards. */
const ROUTING = ['_matchedRoute', '_matchedRouteName', 'routerPath', 'routerName'] as const;

/**
 * A login step that has just handed oidc-provider its result answers with what the resume would
 * answer (the code for the application, or the next prompt), as Keycloak's login form answers
 * with the redirect to the application: one exchange of the browser with Monban fewer per login,
 * and the resume reads the interaction from the step's own save of it (redis-adapter.ts).
 *
 * oidc-provider resumes an authorization request at GET /auth/:uid (a device flow's at
 * /device/:uid), and only for the browser holding that uid's resume cookie, which it set with the
 * interaction cookie and scoped to that path, so the browser does not send it here. The step's
 * request already proved the same thing: it came with the interaction cookie for this uid
 * (loadInteraction), and a form's with its CSRF token. So the request goes on to oidc-provider's
 * router as that GET, with the resume cookie it stands for, signed with oidc-provider's own keys.
 * Its method, address and route are given back afterwards, for the logs, metrics and traces. The
 * resume clears the browser's resume cookie, as it always does.
 */
export async function resumeHere(
  ctx: Context,
  next: Next,
  provider: Provider,
  interaction: Interaction,
): Promise<void> {
  const keys = (ctx.cookies as unknown as { keys?: CookieKeys }).keys;
  if (!keys) throw new Error('oidc-provider signs its cookies: its keys must be set');
  const name = provider.cookieName('resume');
  const cookie = `${name}=${interaction.uid}`;
  const sent = ctx.get('cookie');
  // Before the browser's own: a cookie header is read first match first.
  ctx.req.headers.cookie = `${cookie}; ${name}.sig=${keys.sign(cookie)}${sent ? `; ${sent}` : ''}`;
  const { method, url } = ctx;
  const routed = ctx as unknown as Record<(typeof ROUTING)[number], unknown>;
  const routing = ROUTING.map((field) => routed[field]);
  // The redirect to the resume gives way to the resume's own answer.
  ctx.remove('Location');
  ctx.body = null;
  ctx.status = 404;
  ctx.method = 'GET';
  // The authorization's resume (/auth/:uid), or the device flow's (/device/:uid).
  ctx.url = new URL(interaction.returnTo).pathname;
  try {
    await next();
  } finally {
    ctx.method = method;
    ctx.url = url;
    ROUTING.forEach((field, i) => (routed[field] = routing[i]));
    ctx.req.headers.cookie = sent || undefined;
  }
}

/** Whether a step's answer is the redirect to its interaction's resume. */
export function redirectsToResume(ctx: Context, interaction: Interaction): boolean {
  return ctx.status === 303 && ctx.response.get('location') === interaction.returnTo;
}
