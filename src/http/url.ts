import type { Context } from 'koa';
import { pickedLocale } from './i18n.js';

/** `path?a=1&b=2`, leaving out parameters without a value. */
export function withParams(path: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => Boolean(e[1])));
  return query.size ? `${path}?${query}` : path;
}

/**
 * A URL for the next step with its parameters and the language picked in the globe menu, which
 * would otherwise be lost on the way (an RP's ui_locales would win on the next page).
 */
export function withLang(ctx: Context, path: string, params: Record<string, string | undefined> = {}): string {
  return withParams(path, { ...params, lang: pickedLocale(ctx) });
}
