import { createHash } from 'node:crypto';
import Tokens from 'csrf';
import type { Context, Next } from 'koa';
import { sameSecret } from '../constant-time.js';
import { AppError } from '../errors.js';
import { rootCookieName } from './cookie-names.js';

const tokens = new Tokens();
const secretCookie = (ctx: Context) => rootCookieName(ctx.secure, 'monban_csrf');

export interface CsrfOptions {
  secureCookies: boolean;
}

/**
 * Synchronizer tokens (OWASP CSRF cheat sheet): a per-browser secret in an HttpOnly cookie and a
 * token derived from it in every form. SameSite=Lax on the cookie is a second layer.
 */
export function csrfToken(ctx: Context, options: CsrfOptions): string {
  let secret = ctx.cookies.get(secretCookie(ctx));
  if (!secret) {
    secret = tokens.secretSync();
    ctx.cookies.set(secretCookie(ctx), secret, {
      httpOnly: true,
      sameSite: 'lax',
      secure: options.secureCookies,
      path: '/',
      overwrite: true,
    });
  }
  return tokens.create(secret);
}

/**
 * csrf's `verify`, with a constant-time comparison of our own: csrf's (tsscmp) keys two HMACs
 * with fresh random bytes on every call, most of what a form post's check cost. A token is
 * `<salt>-<SHA-1 of "<salt>-<secret>", base64url>`, as csrf 3's `create` makes it.
 */
export function csrfTokenMatches(secret: string, token: string): boolean {
  const dash = token.indexOf('-');
  if (dash < 1) return false;
  const salt = token.slice(0, dash);
  const digest = createHash('sha1').update(`${salt}-${secret}`, 'ascii').digest('base64url');
  return sameSecret(`${salt}-${digest}`, token);
}

/** Refuses a form post whose token does not match this browser's secret. */
export async function verifyCsrf(ctx: Context, next: Next): Promise<void> {
  const secret = ctx.cookies.get(secretCookie(ctx));
  const token = (ctx.request as { body?: Record<string, unknown> }).body?._csrf;
  if (!secret || typeof token !== 'string' || !csrfTokenMatches(secret, token)) {
    throw new AppError('CSRF_FAILED');
  }
  await next();
}
