/**
 * The account console (/account) from a test's side: an app with a real SMTP catcher and a fake
 * Twilio on loopback, a browser (HttpClient) signed in through the login pages, its forms, and a
 * relying party holding tokens for the same account.
 */
import { randomInt } from 'node:crypto';
import type { App } from '../../src/app.js';
import type { Logger } from '../../src/logger.js';
import type { AccountRow } from '../../src/db/schema.js';
import { startTestApp, type TestApp } from './app.js';
import type { FakeDuo } from './fake-duo.js';
import { FakeSmsProvider, type CaughtSms } from './fake-sms.js';
import { authorizationUrl, exchangeCode, postAsClient, registerUser, RP_CALLBACK, TEST_PASSWORD } from './fixtures.js';
import { HttpClient, loginThroughPages, submitForm, type PageResponse } from './http-client.js';
import { MailCatcher } from './smtp.js';

export const SMS_FROM = '+15005550006';
/** Meets every rule of the default policy, is not common, and holds no piece of the test addresses. */
export const NEW_PASSWORD = 'Momiji-Yama-2027!';
export const OTHER_PASSWORD = 'Sakura-Kawa-2028?';
/** A browser that reads English (the pages follow Accept-Language). */
export const ENGLISH = { 'accept-language': 'en' };

export interface AccountHarness {
  t: TestApp;
  app: App;
  issuer: string;
  mail: MailCatcher;
  sms: FakeSmsProvider;
  close(): Promise<void>;
}

/**
 * The app on PostgreSQL + Redis, mail to a real SMTP server, text messages to a fake Twilio;
 * with `duo`, Monban is also configured for that fake Duo (see startTestApp).
 */
export async function startAccountHarness(
  overrides: Record<string, unknown> = {},
  options: { duo?: FakeDuo; logger?: Logger } = {},
): Promise<AccountHarness> {
  const mail = await new MailCatcher().start();
  const sms = await new FakeSmsProvider().start();
  let t: TestApp;
  try {
    t = await startTestApp({
      overrides: {
        mail: { smtpUrl: mail.url, from: 'Monban <no-reply@monban.test>' },
        courier: { pollIntervalMs: 200, maxAttempts: 5, backoffSeconds: 1, maxBackoffSeconds: 2 },
        ...overrides,
        // SMS settings of a test (allowed countries, caps) go on top of the fake provider's.
        sms: {
          baseUrl: sms.baseUrl,
          accountSid: sms.accountSid,
          authToken: sms.authToken,
          from: SMS_FROM,
          ...(overrides.sms as object | undefined),
        },
      },
      ...(options.duo ? { duo: options.duo } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
  } catch (err) {
    await Promise.all([mail.stop(), sms.stop()]);
    throw err;
  }
  return {
    t,
    app: t.app,
    issuer: t.issuer,
    mail,
    sms,
    async close() {
      await t.close();
      await Promise.all([mail.stop(), sms.stop()]);
    },
  };
}

/** Logs the browser into /account through the login pages; returns the hub page. */
export async function signInToAccount(
  browser: HttpClient,
  issuer: string,
  email: string,
  password = TEST_PASSWORD,
): Promise<PageResponse> {
  const last = await loginThroughPages(browser, `${issuer}/account`, `${issuer}/account/callback`, { email, password });
  if (!last.location?.startsWith(`${issuer}/account/callback`)) {
    throw new Error(`login to /account stopped at ${last.url} (${last.status})`);
  }
  const hub = await browser.follow(last.location);
  if (hub.status !== 200 || hub.url !== `${issuer}/account`)
    throw new Error(`after the login: ${hub.url} answered ${hub.status}`);
  return hub;
}

/** A new active English-speaking account and a browser signed in to its console. */
export async function signedInUser(
  h: { app: App; issuer: string },
  options: { email?: string; headers?: Record<string, string> } = {},
) {
  const user = await registerUser(h.app, { locale: 'en', ...(options.email ? { email: options.email } : {}) });
  const browser = new HttpClient({ ...ENGLISH, ...options.headers });
  const hub = await signInToAccount(browser, h.issuer, user.email);
  return { user, browser, hub };
}

/** GETs a console page (path under the issuer). */
export function open(browser: HttpClient, issuer: string, path: string): Promise<PageResponse> {
  return browser.request(`${issuer}${path}`);
}

/** Opens `path`, submits its form whose action contains `action` with `fields`; returns the answer (not followed). */
export async function openAndSubmit(
  browser: HttpClient,
  issuer: string,
  path: string,
  action: string,
  fields: Record<string, string>,
): Promise<PageResponse> {
  const page = await open(browser, issuer, path);
  if (page.status !== 200) throw new Error(`GET ${path} answered ${page.status}`);
  return submitForm(browser, page, action, fields);
}

/** Follows a 303 the way a browser does after a form; the page it lands on. */
export async function landed(browser: HttpClient, answer: PageResponse): Promise<PageResponse> {
  if (!answer.location) throw new Error(`expected a redirect from ${answer.url}, got ${answer.status}`);
  return browser.follow(answer.location);
}

/**
 * What a signed-out browser sees at a console page: sent to Monban's authorization endpoint as
 * the console client, and from there to the login page (the email step).
 */
export async function expectSentToLogin(browser: HttpClient, issuer: string, res: PageResponse): Promise<PageResponse> {
  expect(res.status).toBe(303);
  const location = new URL(res.location ?? '');
  if (location.pathname === '/account/login')
    return expectSentToLogin(browser, issuer, await browser.request(location.toString()));
  expect(`${location.origin}${location.pathname}`).toBe(`${issuer}/auth`);
  expect(location.searchParams.get('client_id')).toBe('monban-account');
  const login = await browser.follow(location.toString());
  expect(login.status).toBe(200);
  expect(isLoginPage(login)).toBe(true);
  return login;
}

/** The email step of the login (the first page of a login). */
export function isLoginPage(page: PageResponse): boolean {
  return /<form[^>]*action="\/interaction\/[^"]+\/email"/.test(page.body) && /name="email"/.test(page.body);
}

/** The consent page of an authorization request. */
export function isConsentPage(page: PageResponse): boolean {
  return /<form[^>]*action="\/interaction\/[^"]+\/confirm"/.test(page.body);
}

/** The CSRF token of the page's forms. */
export function csrfOf(html: string): string {
  const token = html.match(/name="_csrf" value="([^"]+)"/)?.[1];
  if (!token) throw new Error('no CSRF token on the page');
  return token;
}

/** Whether a page asks for the current password (the re-authentication field). */
export function asksForPassword(html: string): boolean {
  return /name="current_password"/.test(html);
}

/** The text content of the element with `id`, tags removed. */
export function textOf(html: string, id: string): string | undefined {
  const match = html.match(new RegExp(`<(\\w+)[^>]*id="${id}"[^>]*>([\\s\\S]*?)</\\1>`));
  return match?.[2]?.replace(/<[^>]*>/g, '').trim();
}

/** The mobile number shown on the security page, in E.164 (as people read it, it is the element's text). */
export function shownPhone(html: string): string | undefined {
  return html.match(/id="phone-number"[^>]*data-e164="([^"]+)"/)?.[1];
}

export function accountRow(app: App, id: string): Promise<AccountRow> {
  return app.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** The audit event types of an account, oldest first. */
export async function auditTypes(app: App, accountId: string): Promise<string[]> {
  const rows = await app.db
    .selectFrom('audit_events')
    .select('type')
    .where('account_id', '=', accountId)
    .orderBy('id')
    .execute();
  return rows.map((r) => r.type);
}

/** Moves the last password change into the past, beyond the policy's minimum age. */
export async function agePassword(app: App, accountId: string, seconds = 2 * 3600): Promise<void> {
  await app.db
    .updateTable('accounts')
    .set({ password_changed_at: new Date(Date.now() - seconds * 1000) })
    .where('id', '=', accountId)
    .execute();
}

export function sessionIds(app: App, accountId: string): Promise<string[]> {
  return app.db
    .selectFrom('account_sessions')
    .select('session_id')
    .where('account_id', '=', accountId)
    .execute()
    .then((rows) => rows.map((r) => r.session_id));
}

/** The sessions listed on the security page: id, its text, whether marked as this browser. */
export function listedSessions(html: string): { id: string; text: string; current: boolean }[] {
  return [...html.matchAll(/<li data-session="([^"]+)">\s*<span>([\s\S]*?)<\/span>/g)].map((m) => ({
    id: m[1]!,
    text: m[2]!
      .replace(/<[^>]*>/g, '')
      .replace(/\s+/g, ' ')
      .trim(),
    current: /<strong>/.test(m[2]!),
  }));
}

/** The client ids of the apps listed on the security page. */
export function listedApps(html: string): string[] {
  return [...html.matchAll(/<li data-client="([^"]+)">/g)].map((m) => m[1]!);
}

/** A Japanese mobile number no other test uses: as typed (national), in E.164, and as pages show it. */
export function jpMobile(): { national: string; e164: string; shown: string } {
  const rest = String(randomInt(10_000_000, 100_000_000));
  return {
    national: `090-${rest.slice(0, 4)}-${rest.slice(4)}`,
    e164: `+8190${rest}`,
    shown: `+81 90 ${rest.slice(0, 4)} ${rest.slice(4)}`,
  };
}

/** The code in a verification text message. */
export function smsCode(sms: CaughtSms): string {
  const code = sms.body.match(/\b(\d{6})\b/)?.[1];
  if (!code) throw new Error(`no code in "${sms.body}"`);
  return code;
}

// --- a relying party holding tokens for the account -------------------------------------------

export interface RpTokens {
  access_token: string;
  refresh_token?: string;
  id_token: string;
}

interface Client {
  client_id: string;
  client_secret?: string;
}

/**
 * Logs `browser` in at the RP (authorization code flow, consent pressed) and redeems the code.
 * `params` adds to or replaces the request's (scope, prompt, ...).
 */
export async function rpSignIn(
  browser: HttpClient,
  issuer: string,
  client: Client,
  email: string,
  password: string,
  params: Record<string, string> = {},
): Promise<RpTokens> {
  const auth = authorizationUrl(issuer, client.client_id, params);
  const last = await loginThroughPages(browser, auth.url, RP_CALLBACK, { email, password });
  if (!last.location?.startsWith(`${RP_CALLBACK}?code=`))
    throw new Error(`the RP login stopped at ${last.url} (${last.status})`);
  const code = new URL(last.location).searchParams.get('code')!;
  const res = await exchangeCode(issuer, client, code, auth.verifier);
  if (res.status !== 200) throw new Error(`code exchange answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as RpTokens;
}

/** An RP's refresh at the token endpoint: the status and the JSON answer. */
export async function refresh(
  issuer: string,
  client: Client,
  refreshToken: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await postAsClient(`${issuer}/token`, client, {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const discovered = new Map<string, Record<string, string>>();
async function metadata(issuer: string): Promise<Record<string, string>> {
  let found = discovered.get(issuer);
  if (!found) {
    found = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
    discovered.set(issuer, found);
  }
  return found;
}

/** Whether the RP's token is active, asked at the introspection endpoint. */
export async function isActive(issuer: string, client: Client, token: string): Promise<boolean> {
  const res = await postAsClient((await metadata(issuer)).introspection_endpoint!, client, { token });
  if (res.status !== 200) throw new Error(`introspection answered ${res.status}`);
  return ((await res.json()) as { active: boolean }).active;
}

export async function userinfo(
  issuer: string,
  accessToken: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch((await metadata(issuer)).userinfo_endpoint!, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
