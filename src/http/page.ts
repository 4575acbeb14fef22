import type { Context } from 'koa';
import type { Config } from '../config/schema.js';
import { csrfToken } from '../security/csrf.js';
import { AppError, FormError } from './errors.js';
import { negotiateLocale, pickedLocale, translator, type Locale } from './i18n.js';
import { sendHtml, type Views } from './render.js';

export interface PageDeps {
  config: Readonly<Config>;
  views: Views;
}

export interface RenderOptions {
  status?: number;
  /** The RP's ui_locales, when the page belongs to an authorization request. */
  uiLocales?: unknown;
  /** Whether the page holds a form (then it gets a CSRF token). */
  form?: boolean;
}

/** A one-time notice for the next page (e.g. after a password change, on the login page). */
export const NOTICE_COOKIE = 'monban_notice';

/** Leaves a notice for the next page; the login page shows 'password_changed' once. */
export function setNotice(ctx: Context, config: Readonly<Config>, notice: 'password_changed'): void {
  ctx.cookies.set(NOTICE_COOKIE, notice, {
    httpOnly: true, sameSite: 'lax', secure: secureCookies(config), path: '/', maxAge: 10 * 60 * 1000, overwrite: true,
  });
}

export function secureCookies(config: Readonly<Config>): boolean {
  return config.issuer.startsWith('https://');
}

/** 303 See Other: after a form, or between the steps of a flow, the browser GETs `url`. */
export function seeOther(ctx: Context, url: string): void {
  ctx.status = 303;
  ctx.redirect(url);
}

export interface SignedCookieOptions {
  path: string;
  maxAgeMs: number;
  sameSite?: 'lax' | 'strict';
}

/** A signed, HttpOnly cookie (Secure with an https issuer); `null` clears it. */
export function setSignedCookie(ctx: Context, config: Readonly<Config>, name: string, value: string | null, options: SignedCookieOptions): void {
  ctx.cookies.set(name, value, {
    signed: true, httpOnly: true, sameSite: options.sameSite ?? 'lax', secure: secureCookies(config),
    path: options.path, maxAge: options.maxAgeMs, overwrite: true,
  });
}

/** Reads a signed cookie once: it is cleared in the same response (single-use state). */
export function takeSignedCookie(ctx: Context, name: string, path: string): string | undefined {
  const value = ctx.cookies.get(name, { signed: true }) || undefined;
  if (value !== undefined) ctx.cookies.set(name, null, { path });
  return value;
}

/** One refusal, for the form-error partial: its message key and values. */
export function errorMessage(error?: AppError): { errorKey?: string | undefined; errorParams?: Record<string, string | number> | undefined } {
  return { errorKey: error && `errors.${error.code}`, errorParams: error?.params };
}

/** Every problem of a refusal (e.g. each broken password rule), for the form-errors partial. */
export function errorList(error?: AppError | FormError): { key: string; params: Record<string, string | number> }[] {
  const codes = error instanceof FormError ? error.codes : error ? [error.code] : [];
  return codes.map((code) => ({ key: `errors.${code}`, params: error?.params ?? {} }));
}

/** The language links of the globe menu: the same page with `lang` set. */
function languageLinks(ctx: Context, current: Locale) {
  return (['ja', 'en'] as const).map((locale) => {
    const url = new URL(ctx.originalUrl, 'http://x');
    url.searchParams.set('lang', locale);
    return { locale, href: `${url.pathname}${url.search}`, current: locale === current };
  });
}

/** Renders a page with what every page needs: language, globe menu, CSRF token, support contact. */
export function renderPage(
  ctx: Context,
  deps: PageDeps,
  view: string,
  data: Record<string, unknown>,
  options: RenderOptions = {},
): void {
  const locale = negotiateLocale(ctx, deps.config.locales.default, options.uiLocales);
  const i18n = translator(locale);
  // Forms and in-flow links carry `lang` on only when the user picked it in the globe menu: a
  // carried `?lang=` is remembered in the cookie, and an RP's ui_locales is not the user's choice.
  sendHtml(ctx, deps.views, view, {
    ...data,
    i18n,
    lang: locale,
    pickedLang: pickedLocale(ctx),
    languages: ctx.method === 'GET' ? languageLinks(ctx, locale) : undefined,
    csrf: options.form ? csrfToken(ctx, { secureCookies: secureCookies(deps.config) }) : undefined,
    support: deps.config.support,
  }, options.status ?? 200);
}
