import type { Context } from 'koa';
import { withParams } from '../text/views.js';
import { carriedLang } from './locale.js';

/**
 * A URL for the next step with its parameters and the language picked in the globe menu, which
 * would otherwise be lost on the way (an RP's ui_locales would win on the next page).
 */
export function withLang(ctx: Context, path: string, params: Record<string, string | undefined> = {}): string {
  return withParams(path, { ...params, lang: carriedLang(ctx) });
}
