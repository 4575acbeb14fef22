import { readFileSync } from 'node:fs';
import path from 'node:path';
import i18next, { type TFunction } from 'i18next';
import type { Context } from 'koa';

export type Locale = 'ja' | 'en';
export const LOCALES: readonly Locale[] = ['ja', 'en'];
export const LOCALE_COOKIE = 'monban_lang';

export interface Translator {
  locale: Locale;
  t: TFunction;
}

const instance = i18next.createInstance();

/** Loads views/locales/*.json once; i18next does lookup, interpolation and fallback. */
export async function initI18n(viewsDir: string): Promise<void> {
  if (instance.isInitialized) return;
  const resources: Record<string, { translation: Record<string, unknown> }> = {};
  for (const locale of LOCALES) {
    const file = path.join(viewsDir, 'locales', `${locale}.json`);
    resources[locale] = { translation: JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> };
  }
  await instance.init({
    resources,
    fallbackLng: 'en',
    supportedLngs: [...LOCALES],
    interpolation: { escapeValue: false }, // handlebars escapes on output
    returnNull: false,
  });
}

export function translator(locale: Locale): Translator {
  return { locale, t: instance.getFixedT(locale) };
}

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}

function firstUiLocale(uiLocales: unknown): Locale | undefined {
  if (typeof uiLocales !== 'string') return undefined;
  for (const tag of uiLocales.split(/\s+/)) {
    const base = tag.split('-')[0]?.toLowerCase();
    if (isLocale(base)) return base;
  }
  return undefined;
}

/** The language the user picked in the globe menu for this request (`lang` in the query or form). */
export function pickedLocale(ctx: Context): Locale | undefined {
  const picked = ctx.query.lang ?? (ctx.request as { body?: Record<string, unknown> }).body?.lang;
  return isLocale(picked) ? picked : undefined;
}

/**
 * The page language: an explicit `lang` the user picked in the globe menu (carried by the page's
 * links and forms), then the RP's ui_locales (OIDC Core 3.1.2.1), then the globe menu's cookie,
 * then the browser's Accept-Language, then the configured default.
 */
export function negotiateLocale(ctx: Context, fallback: Locale, uiLocales?: unknown): Locale {
  const picked = pickedLocale(ctx);
  if (picked) return picked;
  const fromParams = firstUiLocale(uiLocales ?? ctx.query.ui_locales);
  if (fromParams) return fromParams;
  const fromCookie = ctx.cookies.get(LOCALE_COOKIE);
  if (isLocale(fromCookie)) return fromCookie;
  if (!ctx.get('accept-language')) return fallback;
  const accepted = ctx.acceptsLanguages([...LOCALES]);
  return isLocale(accepted) ? accepted : fallback;
}
