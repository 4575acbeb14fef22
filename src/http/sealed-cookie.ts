import type { Context } from 'koa';
import type { Config } from '../config/schema.js';
import { setSignedCookie } from './page.js';

/** What seals a cookie's value (SecretBox: AES-256-GCM bound to a context). */
export interface Sealer {
  seal(plaintext: string, context: string): string;
  openText(sealed: string, context: string): string;
}

export interface SealedCookie {
  name: string;
  path: string;
  /** What the value is bound to (e.g. the account and session): opened anywhere else it is refused. */
  context: string;
  maxAgeMs: number;
}

/**
 * Something the browser may see again for a few minutes but nobody may read on the way or at rest
 * in the cookie jar (e.g. recovery codes shown once, which the page must still show after a
 * reload or a switch of language): sealed with the server's key and signed.
 */
export function setSealedCookie(
  ctx: Context,
  config: Readonly<Config>,
  box: Sealer,
  cookie: SealedCookie,
  value: unknown,
): void {
  setSignedCookie(ctx, config, cookie.name, box.seal(JSON.stringify(value), cookie.context), {
    path: cookie.path,
    maxAgeMs: cookie.maxAgeMs,
    // Lax: the page may be reached by a redirect after another site (Duo's prompt), where a
    // Strict cookie set on the way would not be sent.
    sameSite: 'lax',
  });
}

/** The value of a sealed cookie, or undefined when it is absent, expired, forged or bound elsewhere. */
export function readSealedCookie(ctx: Context, box: Sealer, cookie: SealedCookie): unknown {
  const sealed = ctx.cookies.get(cookie.name, { signed: true });
  if (!sealed) return undefined;
  try {
    return JSON.parse(box.openText(sealed, cookie.context)) as unknown;
  } catch {
    return undefined;
  }
}

export function clearSealedCookie(ctx: Context, cookie: Pick<SealedCookie, 'name' | 'path'>): void {
  ctx.cookies.set(cookie.name, null, { path: cookie.path });
  ctx.cookies.set(`${cookie.name}.sig`, null, { path: cookie.path });
}
