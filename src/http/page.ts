import type { Context } from 'koa';
import type { Config } from '../config/schema.js';
import { AppError, FormError, type ErrorParams } from '../errors.js';
import { canonicalTimeZone, defaultTimeZone } from '../text/format.js';
import { brandFor } from '../text/branding.js';
import { translator, type Locale, type Translator } from '../text/i18n.js';
import type { Views } from '../text/views.js';
import { rootCookieName } from './cookie-names.js';
import { csrfToken } from './csrf.js';
import { negotiateLocale, pickedLocale, type OfferedLocales } from './locale.js';

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
  /**
   * Where the language menu leads from a page that answers a form (POST): the GET address that
   * shows the same step. Default: the same path. A GET page's menu leads to its own address.
   */
  languagePath?: string;
  /**
   * The GET address of a step shown in answer to another address (the email step at the
   * authorization request, the password step at the email form): the browser's address bar is
   * set to it (public/page-address.js), so a reload asks for this step again instead of posting
   * the form twice or starting another authorization request. The language menu leads there too.
   */
  address?: string;
  /** The reader's own time zone (the account's choice); else the browser's, else the language's default. */
  timeZone?: string | null | undefined;
}

/** A one-time notice for the next page (e.g. after a password change, on the login page). */
export const noticeCookie = (ctx: Context) => rootCookieName(ctx.secure, 'monban_notice');

/** Leaves a notice for the next page; the login page shows 'password_changed' once. */
export function setNotice(ctx: Context, config: Readonly<Config>, notice: 'password_changed'): void {
  ctx.cookies.set(noticeCookie(ctx), notice, {
    httpOnly: true,
    sameSite: 'lax',
    secure: secureCookies(config),
    path: '/',
    maxAge: 10 * 60 * 1000,
    overwrite: true,
  });
}

export function secureCookies(config: Readonly<Config>): boolean {
  return config.issuer.startsWith('https://');
}

/** 303 See Other: after a form, or between the steps of a flow, the browser GETs `url`. */
/**
 * JSON for a <script type="application/json"> block, written unescaped into the page: every "<"
 * as \u003c, so a name holding "</script>" cannot end the block (HTML 4.12.1.3).
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

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
export function setSignedCookie(
  ctx: Context,
  config: Readonly<Config>,
  name: string,
  value: string | null,
  options: SignedCookieOptions,
): void {
  ctx.cookies.set(name, value, {
    signed: true,
    httpOnly: true,
    sameSite: options.sameSite ?? 'lax',
    secure: secureCookies(config),
    path: options.path,
    maxAge: options.maxAgeMs,
    overwrite: true,
  });
}

/** Reads a signed cookie once: it is cleared in the same response (single-use state). */
export function takeSignedCookie(ctx: Context, name: string, path: string): string | undefined {
  const value = ctx.cookies.get(name, { signed: true }) || undefined;
  if (value !== undefined) ctx.cookies.set(name, null, { path });
  return value;
}

/** takeSignedCookie for a JSON value; unknown, since the caller checks its shape. */
export function takeSignedJson(ctx: Context, name: string, path: string): unknown {
  const value = takeSignedCookie(ctx, name, path);
  try {
    return value === undefined ? undefined : (JSON.parse(value) as unknown);
  } catch {
    return undefined;
  }
}

/** One refusal, for the form-error partial: its message key and values. */
export function errorMessage(error?: AppError): {
  errorKey?: string | undefined;
  errorParams?: ErrorParams | undefined;
} {
  return { errorKey: error && `errors.${error.code}`, errorParams: error?.params };
}

/**
 * The form fields a problem is about, by its code's prefix: once the user edits them the message
 * is out of date, and the page's script takes it away (public/form-errors.js).
 */
const FIELDS_OF_PROBLEM: [prefix: string, fields: string][] = [
  ['EMAIL_', 'email'],
  ['PASSWORD_', 'password password_confirmation'],
  ['NAME_KANA', 'family_name_kana given_name_kana'],
  ['NAME_', 'family_name given_name'],
  ['COUNTRY_', 'country'],
  ['PHONE_', 'number'],
  ['TIMEZONE_', 'zoneinfo'],
];

/** Every problem of a refusal (e.g. each broken password rule), for the form-errors partial. */
export function errorList(error?: AppError | FormError): { key: string; params: ErrorParams; fields?: string }[] {
  const codes = error instanceof FormError ? error.codes : error ? [error.code] : [];
  return codes.map((code) => ({
    key: `errors.${code}`,
    params: error?.params ?? {},
    fields: FIELDS_OF_PROBLEM.find(([prefix]) => code.startsWith(prefix))?.[1],
  }));
}

export interface PageData extends Record<string, unknown> {
  i18n: Translator;
  title?: string;
}

export function sendHtml(ctx: Context, views: Views, name: string, data: PageData, status = 200): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('cache-control', 'no-store');
  ctx.body = views.html(name, data);
}

/** Each language by its own name, as a menu of languages shows it. */
export const LANGUAGE_NAMES: Record<Locale, string> = { ja: '日本語', en: 'English' };

/**
 * The links of the language menu, one per offered language: the same page with `lang` set. A page
 * that answers a form (POST) links to the GET address of the same step (`languagePath`), never back
 * to the POST.
 */
function languageLinks(
  ctx: Context,
  locales: OfferedLocales,
  current: Locale,
  { address, languagePath }: Pick<RenderOptions, 'address' | 'languagePath'>,
) {
  const answersForm = ctx.method !== 'GET' && ctx.method !== 'HEAD';
  return locales.supported.map((locale) => {
    const url = new URL(address ?? (answersForm ? (languagePath ?? ctx.path) : ctx.originalUrl), 'http://x');
    url.searchParams.set('lang', locale);
    return {
      locale,
      label: LANGUAGE_NAMES[locale],
      href: `${url.pathname}${url.search}`,
      current: locale === current,
    };
  });
}

/** The browser's time zone, which public/time-zone.js puts in a cookie. */
export const timeZoneCookie = (ctx: Context) => rootCookieName(ctx.secure, 'monban_tz');

/** The address our mails come from ("Monban <no-reply@example.com>" → "no-reply@example.com"), for "add it to your contacts". */
function mailSender(from: string): string {
  return /<([^<>]+)>\s*$/.exec(from)?.[1] ?? from;
}

/** Renders a page with what every page needs: language menu, time zone, CSRF token, support contact, our mail sender. */
export function renderPage(
  ctx: Context,
  deps: PageDeps,
  view: string,
  data: Record<string, unknown>,
  options: RenderOptions = {},
): void {
  const locale = negotiateLocale(ctx, deps.config.locales, options.uiLocales);
  const i18n = translator(locale);
  // Forms and in-flow links carry `lang` on only when the user picked it in the globe menu: a
  // carried `?lang=` is remembered in the cookie, and an RP's ui_locales is not the user's choice.
  sendHtml(
    ctx,
    deps.views,
    view,
    {
      ...data,
      i18n,
      lang: locale,
      pickedLang: pickedLocale(ctx, deps.config.locales),
      languages: languageLinks(ctx, deps.config.locales, locale, options),
      address: options.address,
      timeZone:
        canonicalTimeZone(options.timeZone) ??
        canonicalTimeZone(ctx.cookies.get(timeZoneCookie(ctx))) ??
        defaultTimeZone(locale),
      csrf: options.form ? csrfToken(ctx, { secureCookies: secureCookies(deps.config) }) : undefined,
      support: deps.config.support,
      brand: brandFor(deps.config.branding, locale),
      mailSender: mailSender(deps.config.mail.from),
    },
    options.status ?? 200,
  );
}
