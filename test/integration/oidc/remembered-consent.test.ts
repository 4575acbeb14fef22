/**
 * Remembered consent: an account that allowed an app is not asked again when the app next sends
 * it to us (src/oidc/remembered-consent.ts), unless the app asks for more, asks for the page
 * (prompt=consent), or the user revoked the app's access.
 */
import { sql } from 'kysely';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import {
  authorizationUrl,
  en,
  exchangeCode,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import { formAction, HttpClient, loginThroughPages, type PageResponse } from '../../helpers/http-client.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

type Client = Awaited<ReturnType<typeof registerClient>>;

/** A login in a new browser that stops at the consent page when there is one. */
async function login(client: Client, email: string, params: Record<string, string> = {}) {
  const auth = authorizationUrl(t.issuer, client.client_id, params);
  const browser = new HttpClient({ 'accept-language': 'en' });
  const page = await loginThroughPages(browser, auth.url, RP_CALLBACK, {
    email,
    password: TEST_PASSWORD,
    consent: false,
  });
  return { page, browser, auth };
}

const consentShown = (page: PageResponse) => formAction(page.body, '/confirm') !== undefined;

async function allow(browser: HttpClient, page: PageResponse): Promise<PageResponse> {
  const origin = new URL(t.issuer).origin;
  const action = formAction(page.body, '/confirm')!;
  const csrf = page.body.match(/name="_csrf" value="([^"]*)"/)?.[1] ?? '';
  return browser.follow(new URL(action, origin).toString(), RP_CALLBACK, { form: { _csrf: csrf } });
}

async function tokenScope(client: Client, page: PageResponse, verifier: string): Promise<string> {
  expect(page.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?`));
  const code = new URL(page.location!).searchParams.get('code')!;
  const res = await exchangeCode(t.issuer, client, code, verifier);
  expect(res.status).toBe(200);
  return ((await res.json()) as { scope: string }).scope;
}

async function auditTypes(accountId: string): Promise<string[]> {
  const rows = await t.app.db
    .selectFrom('audit_events')
    .select('type')
    .where('account_id', '=', accountId)
    .orderBy('id')
    .execute();
  return rows.map((r) => r.type);
}

it('a second login to an app the account allowed goes straight back to the app, with a grant of its own', async () => {
  const client = await registerClient(t.app);
  const user = await registerUser(t.app);

  const first = await login(client, user.email);
  expect(consentShown(first.page)).toBe(true);
  const firstScope = await tokenScope(client, await allow(first.browser, first.page), first.auth.verifier);

  const second = await login(client, user.email);
  expect(consentShown(second.page)).toBe(false);
  expect((await tokenScope(client, second.page, second.auth.verifier)).split(' ').sort()).toEqual(
    firstScope.split(' ').sort(),
  );

  // Audited as a login; the consent was given once. Each session has a grant of its own, so a
  // logout in one browser ends only that browser's tokens.
  expect(await auditTypes(user.id)).toEqual(['login.succeeded', 'consent.granted', 'login.succeeded']);
  const grants = await t.app.db
    .selectFrom('account_grants')
    .select('grant_id')
    .where('account_id', '=', user.id)
    .where('client_id', '=', client.client_id)
    .execute();
  expect(new Set(grants.map((g) => g.grant_id)).size).toBe(2);
});

it('a session signed in at another app goes straight back to an app the account allowed in another browser', async () => {
  const [allowed, other] = [await registerClient(t.app), await registerClient(t.app)];
  const user = await registerUser(t.app);
  const elsewhere = await login(allowed, user.email);
  await allow(elsewhere.browser, elsewhere.page);

  const here = await login(other, user.email);
  expect(consentShown(here.page)).toBe(true);
  await tokenScope(other, await allow(here.browser, here.page), here.auth.verifier);

  const sso = authorizationUrl(t.issuer, allowed.client_id);
  const page = await here.browser.follow(sso.url, RP_CALLBACK);
  expect((await tokenScope(allowed, page, sso.verifier)).split(' ').sort()).toEqual(['email', 'openid', 'profile']);
  expect(await auditTypes(user.id)).toEqual([
    'login.succeeded',
    'consent.granted',
    'login.succeeded',
    'consent.granted',
  ]);
});

it('an app asking for more than was allowed shows the consent page for what is new, then remembers all of it', async () => {
  const client = await registerClient(t.app);
  const user = await registerUser(t.app);

  const narrow = await login(client, user.email, { scope: 'openid email' });
  expect(consentShown(narrow.page)).toBe(true);
  await tokenScope(client, await allow(narrow.browser, narrow.page), narrow.auth.verifier);

  const wider = await login(client, user.email, { scope: 'openid email profile' });
  expect(consentShown(wider.page)).toBe(true);
  expect(wider.page.body).toContain(en('consent.scopes.profile'));
  expect(wider.page.body).not.toContain(en('consent.scopes.email'));
  const widerScope = await tokenScope(client, await allow(wider.browser, wider.page), wider.auth.verifier);
  expect(widerScope.split(' ').sort()).toEqual(['email', 'openid', 'profile']);

  const again = await login(client, user.email, { scope: 'openid email profile' });
  expect(consentShown(again.page)).toBe(false);
  expect((await tokenScope(client, again.page, again.auth.verifier)).split(' ').sort()).toEqual([
    'email',
    'openid',
    'profile',
  ]);
});

it('prompt=consent shows the consent page although the app was allowed', async () => {
  const client = await registerClient(t.app);
  const user = await registerUser(t.app);
  const first = await login(client, user.email);
  await allow(first.browser, first.page);

  const asked = await login(client, user.email, { prompt: 'consent' });
  expect(consentShown(asked.page)).toBe(true);
});

it('after the user revokes the app, the next login asks again', async () => {
  const client = await registerClient(t.app);
  const user = await registerUser(t.app);
  const first = await login(client, user.email);
  await allow(first.browser, first.page);

  expect(await t.app.revoker.revokeClient(user.id, client.client_id)).toBeGreaterThan(0);
  const next = await login(client, user.email);
  expect(consentShown(next.page)).toBe(true);
});

it('a session whose app access was revoked is asked again on its next visit to that app', async () => {
  const client = await registerClient(t.app);
  const user = await registerUser(t.app);
  const first = await login(client, user.email);
  await allow(first.browser, first.page);
  const returning = await login(client, user.email);
  expect(consentShown(returning.page)).toBe(false);

  await t.app.revoker.revokeClient(user.id, client.client_id);
  const again = await returning.browser.follow(authorizationUrl(t.issuer, client.client_id).url, RP_CALLBACK);
  expect(again.location ?? '').not.toContain(RP_CALLBACK);
  expect(consentShown(again)).toBe(true);
});

it('what one account allowed is not given to another account', async () => {
  const client = await registerClient(t.app);
  const alice = await registerUser(t.app);
  const bob = await registerUser(t.app);
  const first = await login(client, alice.email);
  await allow(first.browser, first.page);

  expect(consentShown((await login(client, bob.email)).page)).toBe(true);
  const other = await registerClient(t.app);
  expect(consentShown((await login(other, alice.email)).page)).toBe(true);
});

it('a native app is asked every time, although the account allowed it', async () => {
  const client = await registerClient(t.app, { public: true });
  // The admin API registers web and service clients only; a native app is marked here, before
  // any process has loaded the client.
  await t.app.db
    .updateTable('oidc_clients')
    .set({ metadata: sql`metadata || '{"application_type": "native"}'::jsonb` })
    .where('client_id', '=', client.client_id)
    .execute();
  const user = await registerUser(t.app);
  const first = await login(client, user.email);
  expect(consentShown(first.page)).toBe(true);
  expect((await allow(first.browser, first.page)).location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));

  const second = await login(client, user.email);
  expect(consentShown(second.page)).toBe(true);
});
