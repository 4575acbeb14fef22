import path from 'node:path';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import helmet from 'koa-helmet';
import send from 'koa-send';
import { isOffered, localeCookie, type OfferedLocales } from './locale.js';

/**
 * Security headers (OWASP secure headers). form-action is left out on purpose: after a login
 * form posts, the browser follows redirects to the relying party's redirect_uri, and Chromium
 * applies form-action to those redirects too. oidc-provider adds hashes for its own inline
 * scripts (form_post) to script-src. `imageSources`: other origins of images (a brand's logo URL).
 */
export function securityHeaders(secure: boolean, imageSources: readonly string[] = []) {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:', ...imageSources],
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

/** Wraps page middleware so that requests for `paths` (oidc-provider's JSON endpoints) go past it untouched. */
export function skipFor(paths: ReadonlySet<string>) {
  return <C extends { path: string }>(middleware: (ctx: C, next: Next) => unknown) =>
    (ctx: C, next: Next): unknown =>
      paths.has(ctx.path) ? next() : middleware(ctx, next);
}

/**
 * Browsers drop a SameSite=None cookie that is not Secure, and a plain-http issuer (development
 * on localhost) cannot send Secure cookies: there the SameSite=None cookies written by
 * oidc-provider (the session cookie) go out as Lax. A cross-site POST to /auth then arrives
 * without the session (the user logs in again); a GET is unaffected.
 */
export function laxCookiesOnPlainHttp() {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } finally {
      const cookies = ctx.response.get('set-cookie') as unknown;
      if (Array.isArray(cookies) && cookies.some((c) => /;\s*samesite=none/i.test(String(c))))
        ctx.set(
          'set-cookie',
          cookies.map((c) => String(c).replace(/;\s*samesite=none/i, '; samesite=lax')),
        );
    }
  };
}

/** Urlencoded forms only, with a small size cap; oidc-provider parses its own endpoints. */
export function formBody(limitBytes: number) {
  return bodyParser({ enableTypes: ['form'], formLimit: `${limitBytes}b`, encoding: 'utf-8' });
}

/** Serves files under /static/ from public/, and nothing else touches the disk. */
export function staticFiles(publicDir: string) {
  const root = path.resolve(publicDir);
  return async (ctx: Context, next: Next): Promise<void> => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || !ctx.path.startsWith('/static/')) {
      await next();
      return;
    }
    const served = await send(ctx, ctx.path.slice('/static/'.length), { root, maxage: 3600_000 }).catch(
      () => undefined,
    );
    if (!served) await next();
  };
}

/**
 * One file of an installed package at a fixed /static/ path (a browser bundle), so pages load
 * it from Monban's own origin: no CDN, and the Content-Security-Policy stays 'self'.
 */
export function packageFile(urlPath: string, file: string) {
  const root = path.dirname(file);
  const name = path.basename(file);
  return async (ctx: Context, next: Next): Promise<void> => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || ctx.path !== urlPath) {
      await next();
      return;
    }
    await send(ctx, name, { root, maxage: 3600_000 });
  };
}

/** The globe menu's choice (?lang=) is remembered in a cookie for the pages that follow. */
export function rememberLanguage(secure: boolean, locales: OfferedLocales) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const lang = ctx.query.lang;
    if (isOffered(locales, lang) && ctx.cookies.get(localeCookie(ctx)) !== lang) {
      ctx.cookies.set(localeCookie(ctx), lang, {
        path: '/',
        httpOnly: true,
        sameSite: 'lax',
        secure,
        maxAge: 365 * 24 * 3600 * 1000,
        overwrite: true,
      });
    }
    await next();
  };
}
