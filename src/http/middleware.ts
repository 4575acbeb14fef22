import path from 'node:path';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import helmet from 'koa-helmet';
import send from 'koa-send';
import { isLocale, LOCALE_COOKIE } from './i18n.js';

/**
 * Security headers (OWASP secure headers). form-action is left out on purpose: after a login
 * form posts, the browser follows redirects to the relying party's redirect_uri, and Chromium
 * applies form-action to those redirects too. oidc-provider adds hashes for its own inline
 * scripts (form_post) to script-src.
 */
export function securityHeaders(secure: boolean) {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        'font-src': ["'self'"],
        'connect-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'none'"],
        'frame-ancestors': ["'none'"],
        ...(secure ? { 'upgrade-insecure-requests': [] } : {}),
      },
    },
    strictTransportSecurity: secure ? { maxAge: 31536000, includeSubDomains: true } : false,
    crossOriginEmbedderPolicy: false,
  });
}

/** Urlencoded forms only, with a small size cap; oidc-provider parses its own endpoints. */
export function formBody(limitBytes: number) {
  return bodyParser({ enableTypes: ['form'], formLimit: `${limitBytes}b`, encoding: 'utf-8' });
}

/** Serves files under /static/ from public/, and nothing else touches the disk. */
export function staticFiles(publicDir: string) {
  const root = path.resolve(publicDir);
  return async (ctx: Context, next: Next): Promise<void> => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || !ctx.path.startsWith('/static/')) return next();
    const served = await send(ctx, ctx.path.slice('/static/'.length), { root, maxage: 3600_000 }).catch(() => undefined);
    if (!served) await next();
  };
}

/**
 * With an https issuer every cookie is Secure. Koa refuses Secure cookies on a connection it
 * does not see as TLS, which is the normal case behind a proxy; the issuer tells the truth.
 */
export function secureCookieContext(secure: boolean) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (secure) ctx.cookies.secure = true;
    await next();
  };
}

/** The globe menu's choice (?lang=) is remembered in a cookie for the pages that follow. */
export function rememberLanguage(secure: boolean) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const lang = ctx.query.lang;
    if (isLocale(lang) && ctx.cookies.get(LOCALE_COOKIE) !== lang) {
      ctx.cookies.set(LOCALE_COOKIE, lang, {
        httpOnly: true, sameSite: 'lax', secure, maxAge: 365 * 24 * 3600 * 1000, overwrite: true,
      });
    }
    await next();
  };
}
