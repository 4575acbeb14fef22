import type { Context } from 'koa';
import type { Config } from '../config/schema.js';
import { isLocale, type Locale } from '../text/i18n.js';
import { rootCookieName } from './cookie-names.js';

/** The languages the operator offers (`locales.supported`, in menu order) and the one for everyone else. */
export type OfferedLocales = Readonly<Config['locales']>;

/** The globe menu's choice, remembered for the pages that follow. */
export const localeCookie = (ctx: Context) => rootCookieName(ctx.secure, 'monban_lang');

/** Whether `value` names a language the operator offers. */
export function isOffered(locales: OfferedLocales, value: unknown): value is Locale {
  return isLocale(value) && locales.supported.includes(value);
}

function firstUiLocale(locales: OfferedLocales, uiLocales: unknown): Locale | undefined {
  if (typeof uiLocales !== 'string') return undefined;
  for (const tag of uiLocales.split(/\s+/)) {
    const base = tag.split('-')[0]?.toLowerCase();
    if (isOffered(locales, base)) return base;
  }
  return undefined;
}

/** The `lang` of the query or form, as carried from page to page; each page keeps it only if offered. */
export function carriedLang(ctx: Context): Locale | undefined {
  const picked = ctx.query.lang ?? (ctx.request as { body?: Record<string, unknown> }).body?.lang;
  return isLocale(picked) ? picked : undefined;
}

/** The language the user picked in the globe menu for this request (`lang` in the query or form). */
export function pickedLocale(ctx: Context, locales: OfferedLocales): Locale | undefined {
  const picked = carriedLang(ctx);
  return isOffered(locales, picked) ? picked : undefined;
}

/**
 * The page language, among the offered ones: an explicit `lang` the user picked in the globe menu
 * (carried by the page's links and forms), then the RP's ui_locales (OIDC Core 3.1.2.1), then the
 * globe menu's cookie, then the browser's Accept-Language, then the configured default.
 */
export function negotiateLocale(ctx: Context, locales: OfferedLocales, uiLocales?: unknown): Locale {
  const picked = pickedLocale(ctx, locales);
  if (picked) return picked;
  const fromParams = firstUiLocale(locales, uiLocales ?? ctx.query.ui_locales);
  if (fromParams) return fromParams;
  const fromCookie = ctx.cookies.get(localeCookie(ctx));
  if (isOffered(locales, fromCookie)) return fromCookie;
  if (!ctx.get('accept-language')) return locales.default;
  const accepted = ctx.acceptsLanguages([...locales.supported]);
  return isOffered(locales, accepted) ? accepted : locales.default;
}
