import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { App } from '../../src/app.js';
import type { AccountRow, OutboxRow } from '../../src/db/schema.js';
import { HttpClient, submitForm, unescapeHtml, type PageResponse } from './http-client.js';

export { expectNoInternals } from './http-client.js';

/** A password every rule accepts (and not built from any address these tests use). */
export const SIGNUP_PASSWORD = 'Blue-Ocean-Tide-42!';

/** A fresh address nobody has used, at a company domain. */
export function newAddress(prefix = 'signup'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}@kaisha-example.co.jp`;
}

/** The sign-up form's fields, filled in correctly, with `changes` applied. */
export function signUpFields(email: string, changes: Record<string, string> = {}): Record<string, string> {
  return {
    email,
    password: SIGNUP_PASSWORD,
    password_confirmation: SIGNUP_PASSWORD,
    given_name: 'Aiko',
    family_name: 'Tanaka',
    country: 'JP',
    ...changes,
  };
}

/** Opens /signup (with `query`, e.g. "?interaction=...") in this browser. */
export async function openSignUp(browser: HttpClient, issuer: string, query = ''): Promise<PageResponse> {
  const page = await browser.request(`${issuer}/signup${query}`);
  if (page.status !== 200) throw new Error(`GET /signup${query} answered ${page.status}`);
  return page;
}

/** Opens the form and submits it with `fields` as a browser would (CSRF token included). */
export async function signUp(
  browser: HttpClient,
  issuer: string,
  fields: Record<string, string>,
): Promise<PageResponse> {
  return submitForm(browser, await openSignUp(browser, issuer), '/signup', fields);
}

/** Enters a code on the activation page. */
export function enterCode(browser: HttpClient, verifyPage: PageResponse, code: string): Promise<PageResponse> {
  return submitForm(browser, verifyPage, '/signup/verify', { code });
}

/** Presses "Send a new code" on the activation page. */
export function pressResend(browser: HttpClient, verifyPage: PageResponse): Promise<PageResponse> {
  return submitForm(browser, verifyPage, '/signup/resend', {});
}

/** The messages of a form's error list (the role="alert" list on the sign-up form), unescaped. */
export function formErrors(html: string): string[] {
  const list = html.match(/<div[^>]*id="form-errors"[^>]*>([\s\S]*?)<\/div>/)?.[1];
  if (list === undefined) return [];
  return [...list.matchAll(/<li(?: [^>]*)?>([\s\S]*?)<\/li>/g)].map((m) => unescapeHtml(m[1]!.trim()));
}

/** The text of the page's role="status" notice, unescaped. */
export function noticeText(html: string): string | undefined {
  const inner = html.match(/<p[^>]*role="status"[^>]*>([\s\S]*?)<\/p>/)?.[1];
  return inner === undefined ? undefined : unescapeHtml(inner.trim());
}

/** A second browser tab's view of the same cookies: replays what this browser could send now. */
export async function cloneBrowser(browser: HttpClient, url: string): Promise<HttpClient> {
  const copy = new HttpClient(browser.headers);
  for (const cookie of await browser.jar.getCookies(url)) await copy.jar.setCookie(cookie.clone()!, url);
  return copy;
}

/** Every account stored for an address (compared as the unique index does, case-insensitively). */
export function accountsFor(app: App, email: string): Promise<AccountRow[]> {
  return app.db
    .selectFrom('accounts')
    .selectAll()
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .execute();
}

export function outboxFor(app: App, recipient: string): Promise<OutboxRow[]> {
  return app.db.selectFrom('outbox').selectAll().where('recipient', '=', recipient).orderBy('id').execute();
}

/** Polls until `check` returns something truthy (or throws after `timeoutMs`). */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until the courier has nothing pending that is due (sent or failed, never in flight). */
export function outboxSettled(app: App, timeoutMs = 15_000): Promise<true> {
  return eventually(
    async () => {
      const busy = await app.db
        .selectFrom('outbox')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('status', '=', 'pending')
        .where('next_attempt_at', '<=', sql<Date>`now()`)
        .executeTakeFirstOrThrow();
      return Number(busy.n) === 0 || undefined;
    },
    timeoutMs,
    'an idle outbox',
  );
}

/** The HTML of a page with what differs per request or per address taken out, for comparing two pages. */
export function pageShape(html: string, email: string): string {
  return html
    .split(email)
    .join('EMAIL')
    .replace(/name="_csrf" value="[^"]*"/g, 'name="_csrf" value="CSRF"');
}
