import type { Context } from 'koa';
import { setSignedCookie, type PageDeps } from '../http/page.js';

/**
 * State between the steps of one login lives in signed cookies scoped to that interaction's
 * path, so no server state is needed between steps and another login in another tab is apart.
 */
export const interactionPath = (uid: string) => `/interaction/${uid}`;

export function setInteractionCookie(ctx: Context, deps: PageDeps, uid: string, name: string, value: string | null, maxAgeMs?: number): void {
  setSignedCookie(ctx, deps.config, name, value, {
    path: interactionPath(uid),
    maxAgeMs: maxAgeMs ?? deps.config.ttl.interaction * 1000,
  });
}

export function interactionCookie(ctx: Context, name: string): string | undefined {
  return ctx.cookies.get(name, { signed: true }) || undefined;
}

// L1 identifier first: the address from step 1 waits for step 2.
const EMAIL_COOKIE = 'monban_login_email';

export function emailCookie(ctx: Context): string | undefined {
  return interactionCookie(ctx, EMAIL_COOKIE);
}

/** Also used by sign-up: after activation the login continues at the password step. */
export function setEmailCookie(ctx: Context, deps: PageDeps, uid: string, email: string | null): void {
  setInteractionCookie(ctx, deps, uid, EMAIL_COOKIE, email);
}
