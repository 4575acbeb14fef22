/**
 * Issue 11 item 5: a disabled or held account's sessions and tokens stop working at once: the
 * tokens are inactive at introspection (not only at userinfo and refresh), a browser still
 * holding its session gets the login page (login_required with prompt=none), never a 500, and
 * after the right password the general on-hold or disabled message (L5). setAccountStatus is
 * the one operation that does it (the admin CLI calls it; the admin API will).
 */
import { setAccountStatus } from '../../../src/identity/accounts/status.js';
import { updateAccount } from '../../../src/identity/accounts/repository.js';
import {
  auditTypes,
  ENGLISH,
  expectSentToLogin,
  isActive,
  isLoginPage,
  open,
  refresh,
  rpSignIn,
  signInToAccount,
  startAccountHarness,
  userinfo,
  type AccountHarness,
  type RpTokens,
} from '../../helpers/account.js';
import {
  authorizationUrl,
  en,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import { alertText, HttpClient, submitForm, type PageResponse } from '../../helpers/http-client.js';

describe('disabled and held accounts (issue 11 item 5)', () => {
  let h: AccountHarness;
  let client: Awaited<ReturnType<typeof registerClient>>;

  beforeAll(async () => {
    h = await startAccountHarness();
    client = await registerClient(h.app);
  });
  afterAll(async () => {
    await h?.close();
  });

  /** An account signed in at the RP (holding tokens, refresh included) and in the console, in two browsers. */
  async function signedInEverywhere() {
    const user = await registerUser(h.app, { locale: 'en' });
    const rpBrowser = new HttpClient(ENGLISH);
    const tokens = await rpSignIn(rpBrowser, h.issuer, client, user.email, TEST_PASSWORD, {
      scope: 'openid offline_access',
      prompt: 'consent',
    });
    const consoleBrowser = new HttpClient(ENGLISH);
    await signInToAccount(consoleBrowser, h.issuer, user.email);
    expect(await isActive(h.issuer, client, tokens.refresh_token!)).toBe(true);
    return { user, rpBrowser, consoleBrowser, tokens };
  }

  /** What the RP's browser gets from a new authorization request with `prompt`. */
  const authorize = (browser: HttpClient, params: Record<string, string> = {}) =>
    browser.follow(authorizationUrl(h.issuer, client.client_id, params).url, RP_CALLBACK);

  async function expectEverythingEnded(
    who: { user: { email: string }; rpBrowser: HttpClient; consoleBrowser: HttpClient; tokens: RpTokens },
    refusal: string,
  ): Promise<void> {
    const { tokens, rpBrowser, consoleBrowser } = who;
    // Tokens: inactive at introspection, refused at userinfo and the token endpoint.
    expect(await isActive(h.issuer, client, tokens.access_token)).toBe(false);
    expect(await isActive(h.issuer, client, tokens.refresh_token!)).toBe(false);
    expect((await userinfo(h.issuer, tokens.access_token)).status).toBe(401);
    const refreshed = await refresh(h.issuer, client, tokens.refresh_token!);
    expect([refreshed.status, refreshed.body.error]).toEqual([400, 'invalid_grant']);

    // The RP asks silently: login_required comes back to it.
    const silent = await authorize(rpBrowser, { prompt: 'none' });
    expect(silent.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?`));
    expect(new URL(silent.location!).searchParams.get('error')).toBe('login_required');

    // The RP sends the browser to log in: the login page, not a 500.
    const login = await authorize(rpBrowser);
    expect(login.status).toBe(200);
    expect(isLoginPage(login)).toBe(true);
    // The right password gets the general message for the account's status (L5).
    const passwordPage = await submitForm(rpBrowser, login, '/email', { email: who.user.email });
    const refused: PageResponse = await submitForm(rpBrowser, passwordPage, '/password', { password: TEST_PASSWORD });
    expect(refused.status).toBe(403);
    expect(alertText(refused.body)).toBe(en(refusal));

    // The console sends its browser to the login.
    await expectSentToLogin(consoleBrowser, h.issuer, await open(consoleBrowser, h.issuer, '/account'));
  }

  it.each([
    ['disabled', 'errors.ACCOUNT_DISABLED', 'account.disabled'],
    ['on_hold', 'errors.ACCOUNT_ON_HOLD', 'account.held'],
  ] as const)('setting %s ends every session and token at once', async (status, refusal, auditType) => {
    const who = await signedInEverywhere();
    const result = await setAccountStatus(h.app, who.user.id, { status, by: 'test', reason: 'issue 11' });
    expect(result).toEqual({ changed: true, from: 'active', to: status });
    await expectEverythingEnded(who, refusal);

    const audit = await h.app.db
      .selectFrom('audit_events')
      .select('details')
      .where('account_id', '=', who.user.id)
      .where('type', '=', auditType)
      .executeTakeFirstOrThrow();
    expect(audit.details).toEqual({ from: 'active', to: status, by: 'test', reason: 'issue 11' });
    // Nothing of the account is left in the session and grant lists.
    const left = await Promise.all([
      h.app.db.selectFrom('account_sessions').select('session_id').where('account_id', '=', who.user.id).execute(),
      h.app.db.selectFrom('account_grants').select('grant_id').where('account_id', '=', who.user.id).execute(),
    ]);
    expect(left).toEqual([[], []]);
  });

  it.each([
    ['disabled', 'account.enabled'],
    ['on_hold', 'account.released'],
  ] as const)('a %s account set active again logs in as before', async (status, auditType) => {
    const user = await registerUser(h.app, { locale: 'en' });
    await setAccountStatus(h.app, user.id, { status, by: 'test' });
    expect((await setAccountStatus(h.app, user.id, { status, by: 'test' })).changed).toBe(false);
    expect(await setAccountStatus(h.app, user.id, { status: 'active', by: 'test' })).toEqual({
      changed: true,
      from: status,
      to: 'active',
    });
    expect(await auditTypes(h.app, user.id)).toContain(auditType);
    const tokens = await rpSignIn(new HttpClient(ENGLISH), h.issuer, client, user.email, TEST_PASSWORD);
    expect(await isActive(h.issuer, client, tokens.access_token)).toBe(true);
  });

  it('an account held or disabled any other way (a direct update) is no 500 either, and its sessions and tokens stop within seconds', async () => {
    const held = await signedInEverywhere();
    const disabled = await signedInEverywhere();
    // Nothing here ends the sessions or tells the processes: the account's status alone must
    // refuse them, once what a process checked a moment ago has expired (RecentlyUsable, 5 s;
    // RecentAccounts, 10 s after a login's own read).
    await updateAccount(h.app.db, held.user.id, { status: 'on_hold' });
    await updateAccount(h.app.db, disabled.user.id, { status: 'disabled' });
    await new Promise((resolve) => setTimeout(resolve, 10_500));
    await expectEverythingEnded(held, 'errors.ACCOUNT_ON_HOLD');
    await expectEverythingEnded(disabled, 'errors.ACCOUNT_DISABLED');
  });

  it('refuses an unknown account', async () => {
    await expect(
      setAccountStatus(h.app, '00000000-0000-4000-8000-000000000000', { status: 'disabled', by: 'test' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
