import type { Locale } from './text/i18n.js';

/**
 * What code below the web layer may know of the request that caused it: the client's IP (for
 * rate limits and the audit log), its user agent (audit log, remembered browsers) and the page
 * language (for mails). http/ builds it from koa's Context; nothing below http/ sees a Context.
 */
export interface RequestMeta {
  /** The client IP, from trusted proxy hops only (koa's `ctx.ip` with `proxy` set). */
  ip: string;
  /** At most 512 characters. */
  userAgent?: string | undefined;
  /** The browser's device cookie (security/device-trust.ts), if it has one. */
  device?: string | undefined;
  locale: Locale;
}
