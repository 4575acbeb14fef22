import type { Context } from 'koa';
import type { Config } from '../config/schema.js';
import type { RequestMeta } from '../request-meta.js';
import { deviceCookie } from './device-cookie.js';
import { negotiateLocale } from './locale.js';

/** The request, as code below the web layer sees it (`uiLocales`: the RP's, on a login's pages). */
export function requestMeta(ctx: Context, config: Pick<Config, 'locales'>, uiLocales?: unknown): RequestMeta {
  return {
    ip: ctx.ip,
    userAgent: ctx.get('user-agent').slice(0, 512) || undefined,
    device: deviceCookie(ctx),
    locale: negotiateLocale(ctx, config.locales, uiLocales),
  };
}
