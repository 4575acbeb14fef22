import type { Context } from 'koa';
import type { Config } from '../config/schema.js';
import { rootCookieName } from './cookie-names.js';
import { setSignedCookie } from './page.js';

/** The browser's device cookie (src/security/device-trust.ts), sent to every page that checks a password. */
const deviceCookieName = (ctx: Context) => rootCookieName(ctx.secure, 'monban_device');

export function deviceCookie(ctx: Context): string | undefined {
  return ctx.cookies.get(deviceCookieName(ctx), { signed: true }) || undefined;
}

/** After a successful login: this browser is now known to the account. */
export function rememberDevice(
  ctx: Context,
  deps: {
    config: Readonly<Config>;
    /** security/device-trust.ts's DeviceTrust: the cookie's new value for this account. */
    deviceTrust: { remember(cookie: string | undefined, accountId: string): string };
  },
  accountId: string,
): void {
  setSignedCookie(ctx, deps.config, deviceCookieName(ctx), deps.deviceTrust.remember(deviceCookie(ctx), accountId), {
    path: '/',
    maxAgeMs: deps.config.rateLimits.trustedDeviceDays * 86_400_000,
  });
}
