/**
 * PR4: changing the password in the console. On success every session of the account ends (this
 * browser too), every refresh token and grant is revoked, a notice mail goes out and the browser
 * lands on the login page; wrong current passwords and policy violations change nothing.
 */
import {
  accountRow,
  agePassword,
  asksForPassword,
  auditTypes,
  ENGLISH,
  expectSentToLogin,
  isActive,
  isLoginPage,
  landed,
  NEW_PASSWORD,
  open,
  openAndSubmit,
  OTHER_PASSWORD,
  refresh,
  rpSignIn,
  sessionIds,
  signedInUser,
  signInToAccount,
  startAccountHarness,
  userinfo,
  type AccountHarness,
} from '../../helpers/account.js';
import { authorizationUrl, en, registerClient, RP_CALLBACK, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { alertText, expectNoInternals, HttpClient, loginThroughPages } from '../../helpers/http-client.js';
import { formErrors, noticeText } from '../../helpers/signup-pages.js';

const PASSWORD_PAGE = '/account/security/password';

describe('account console: changing the password (PR4)', () => {
  let h: AccountHarness;
  beforeAll(async () => {
    h = await startAccountHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Submits the change-password form as the browser would. */
  function change(
    browser: HttpClient,
    fields: { current_password: string; password: string; password_confirmation?: string },
  ) {
    return openAndSubmit(browser, h.issuer, PASSWORD_PAGE, '/account/security/password', {
      password_confirmation: fields.password,
      ...fields,
    });
  }

  it('ends every session and token of the account, mails a notice, and only the new password logs in', async () => {
    const { user, browser } = await signedInUser(h);
    await agePassword(h.app, user.id);

    // The same person is signed in at an app, which holds a refresh token.
    const client = await registerClient(h.app);
    const rpBrowser = new HttpClient(ENGLISH);
    const tokens = await rpSignIn(rpBrowser, h.issuer, client, user.email, TEST_PASSWORD, {
      scope: 'openid offline_access',
      prompt: 'consent',
    });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(await isActive(h.issuer, client, tokens.access_token)).toBe(true);
    expect((await userinfo(h.issuer, tokens.access_token)).status).toBe(200);
    expect(await sessionIds(h.app, user.id)).toHaveLength(2);

    const form = await open(browser, h.issuer, PASSWORD_PAGE);
    expect(form.status).toBe(200);
    expect(form.body).toContain(en('account.password.logoutWarning'));
    for (const name of ['current_password', 'password', 'password_confirmation'])
      expect(form.body).toContain(`name="${name}"`);
    expect(form.body).toContain('id="password-checklist"');

    const answer = await change(browser, { current_password: TEST_PASSWORD, password: NEW_PASSWORD });
    expect(answer.status).toBe(303);
    expect(answer.location).toBe(`${h.issuer}/account/login`);

    // The browser lands on the login page, told why.
    const login = await landed(browser, answer);
    expect(login.status).toBe(200);
    expect(isLoginPage(login)).toBe(true);
    expect(noticeText(login.body)).toBe(en('account.passwordChangedNotice'));
    // ... once: the notice does not stay on later login pages.
    expect(noticeText((await browser.follow(`${h.issuer}/account`)).body)).toBeUndefined();

    // This browser is logged out of the console.
    await expectSentToLogin(browser, h.issuer, await open(browser, h.issuer, '/account'));

    // The app's refresh token and access token are dead.
    const refreshed = await refresh(h.issuer, client, tokens.refresh_token!);
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
    expect(await isActive(h.issuer, client, tokens.access_token)).toBe(false);
    expect((await userinfo(h.issuer, tokens.access_token)).status).toBe(401);

    // The app's browser has no single sign-on left: a new request asks for the login.
    const again = await rpBrowser.follow(authorizationUrl(h.issuer, client.client_id).url, RP_CALLBACK);
    expect(again.location ?? '').not.toContain(RP_CALLBACK);
    expect(isLoginPage(again)).toBe(true);
    expect(await sessionIds(h.app, user.id)).toEqual([]);
    const grants = await h.app.db
      .selectFrom('account_grants')
      .select('grant_id')
      .where('account_id', '=', user.id)
      .execute();
    expect(grants).toEqual([]);

    // The notice mail, and the audit log.
    const mail = await h.mail.waitFor(user.email, (m) => m.subject === en('emails.passwordChanged.subject'));
    expect(mail.text).toContain(en('emails.passwordChanged.intro'));
    expect(mail.text).toContain(en('emails.passwordChanged.sessions'));
    expect(await auditTypes(h.app, user.id)).toContain('password.changed');
    expect((await accountRow(h.app, user.id)).password_changed_at!.getTime()).toBeGreaterThan(Date.now() - 60_000);

    // The old password no longer logs in; the new one does.
    const stranger = new HttpClient(ENGLISH);
    const refused = await loginThroughPages(stranger, `${h.issuer}/account`, `${h.issuer}/account/callback`, {
      email: user.email,
      password: TEST_PASSWORD,
    });
    expect(refused.location).toBeUndefined();
    expect(alertText(refused.body)).toBe(en('errors.LOGIN_FAILED'));
    const hub = await signInToAccount(stranger, h.issuer, user.email, NEW_PASSWORD);
    expect(hub.body).toContain(user.email);
  });

  it('refuses a wrong current password and changes nothing', async () => {
    const { user, browser } = await signedInUser(h);
    await agePassword(h.app, user.id);
    const before = await accountRow(h.app, user.id);

    const answer = await change(browser, { current_password: 'Not-The-Password-1!', password: NEW_PASSWORD });
    expect(answer.status).toBe(401);
    expect(formErrors(answer.body)).toEqual([en('errors.CURRENT_PASSWORD_WRONG')]);
    expectNoInternals(answer);
    // The form is shown again, without echoing any password back.
    expect(answer.body).toContain('action="/account/security/password"');
    expect(answer.body).not.toContain(NEW_PASSWORD);

    const after = await accountRow(h.app, user.id);
    expect(after.password_hash).toBe(before.password_hash);
    expect(after.password_changed_at).toEqual(before.password_changed_at);
    expect(await auditTypes(h.app, user.id)).toEqual(expect.arrayContaining(['reauth.failed']));
    expect(await auditTypes(h.app, user.id)).not.toContain('password.changed');
    expect((await open(browser, h.issuer, '/account')).status).toBe(200);
    expect(h.mail.mailsTo(user.email)).toEqual([]);
  });

  it('asks for the current password even right after another security form accepted it', async () => {
    const { user, browser } = await signedInUser(h);
    await agePassword(h.app, user.id);
    // The right password on the mobile-number form (the number is refused, the password was right).
    const phone = await openAndSubmit(browser, h.issuer, '/account/security/phone', '/account/security/phone', {
      current_password: TEST_PASSWORD,
      country: 'JP',
      number: 'abc',
    });
    expect(formErrors(phone.body)).toEqual([en('errors.PHONE_INVALID')]);
    expect(asksForPassword(phone.body)).toBe(false);

    // The password page still asks, and a wrong entry there is refused.
    const form = await open(browser, h.issuer, PASSWORD_PAGE);
    expect(asksForPassword(form.body)).toBe(true);
    const before = await accountRow(h.app, user.id);
    const answer = await change(browser, { current_password: 'Not-The-Password-1!', password: NEW_PASSWORD });
    expect(answer.status).toBe(401);
    expect(formErrors(answer.body)).toEqual([en('errors.CURRENT_PASSWORD_WRONG')]);
    expect((await accountRow(h.app, user.id)).password_hash).toBe(before.password_hash);
    expect((await open(browser, h.issuer, '/account')).status).toBe(200);
  });

  it('refuses passwords the policy forbids, with their messages, and changes nothing', async () => {
    const { user, browser } = await signedInUser(h, { email: `taro.yamada-${Date.now().toString(36)}@example.com` });
    await agePassword(h.app, user.id);
    const before = await accountRow(h.app, user.id);

    const cases: { password: string; confirmation?: string; errors: string[] }[] = [
      { password: 'Sh0rt-Pw!', errors: [en('errors.PASSWORD_TOO_SHORT')] },
      { password: NEW_PASSWORD, confirmation: `${NEW_PASSWORD}x`, errors: [en('errors.PASSWORD_MISMATCH')] },
      { password: 'Yamada-Forest-2027!', errors: [en('errors.PASSWORD_CONTAINS_EMAIL')] },
      { password: 'momijiyama2027x', errors: [en('errors.PASSWORD_NEEDS_UPPER'), en('errors.PASSWORD_NEEDS_SYMBOL')] },
      // The current password again.
      { password: TEST_PASSWORD, errors: [en('errors.PASSWORD_IN_HISTORY')] },
    ];
    for (const { password, confirmation, errors } of cases) {
      const answer = await change(browser, {
        current_password: TEST_PASSWORD,
        password,
        password_confirmation: confirmation ?? password,
      });
      expect({ password, status: answer.status, errors: formErrors(answer.body) }).toEqual({
        password,
        status: 400,
        errors,
      });
      expectNoInternals(answer);
    }

    const after = await accountRow(h.app, user.id);
    expect(after.password_hash).toBe(before.password_hash);
    expect(after.password_changed_at).toEqual(before.password_changed_at);
    expect(await auditTypes(h.app, user.id)).not.toContain('password.changed');
    // Still signed in, here and everywhere.
    expect((await open(browser, h.issuer, '/account')).status).toBe(200);
    expect(await sessionIds(h.app, user.id)).toHaveLength(1);
  });

  it('lets the password chosen at sign-up be changed at once: the minimum age counts from a change', async () => {
    const { user, browser } = await signedInUser(h);
    expect((await accountRow(h.app, user.id)).password_changed_at).toBeNull();
    const changed = await change(browser, { current_password: TEST_PASSWORD, password: NEW_PASSWORD });
    expect(changed.location).toBe(`${h.issuer}/account/login`);
    expect((await accountRow(h.app, user.id)).password_changed_at!.getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('refuses an earlier password and a second change within the minimum age', async () => {
    const { user, browser } = await signedInUser(h);
    await agePassword(h.app, user.id);
    const first = await change(browser, { current_password: TEST_PASSWORD, password: NEW_PASSWORD });
    expect(first.location).toBe(`${h.issuer}/account/login`);

    const next = new HttpClient(ENGLISH);
    await signInToAccount(next, h.issuer, user.email, NEW_PASSWORD);
    const hash = (await accountRow(h.app, user.id)).password_hash;

    const tooSoon = await change(next, { current_password: NEW_PASSWORD, password: OTHER_PASSWORD });
    expect(tooSoon.status).toBe(400);
    expect(formErrors(tooSoon.body)).toEqual([en('errors.PASSWORD_CHANGED_TOO_RECENTLY')]);
    expect((await accountRow(h.app, user.id)).password_hash).toBe(hash);
    expect((await open(next, h.issuer, '/account')).status).toBe(200);

    // Once the minimum age has passed, the first password is still remembered.
    await agePassword(h.app, user.id);
    const reused = await change(next, { current_password: NEW_PASSWORD, password: TEST_PASSWORD });
    expect(formErrors(reused.body)).toEqual([en('errors.PASSWORD_IN_HISTORY')]);
    expect((await accountRow(h.app, user.id)).password_hash).toBe(hash);
    expect((await auditTypes(h.app, user.id)).filter((type) => type === 'password.changed')).toHaveLength(1);
  });

  it('Cancel goes back to the security page and changes nothing', async () => {
    const { user, browser } = await signedInUser(h);
    const before = await accountRow(h.app, user.id);
    const form = await open(browser, h.issuer, PASSWORD_PAGE);
    const cancel = form.body.match(/<a href="([^"]+)" id="cancel">([^<]+)<\/a>/);
    expect(cancel?.[1]).toBe('/account/security');
    expect(cancel?.[2]).toBe(en('account.cancel'));

    const security = await browser.follow(new URL(cancel![1]!, h.issuer).toString());
    expect(security.status).toBe(200);
    expect(security.body).toContain('id="certification-hash"');
    const after = await accountRow(h.app, user.id);
    expect(after.password_hash).toBe(before.password_hash);
    expect(after.updated_at).toEqual(before.updated_at);
    expect(await auditTypes(h.app, user.id)).not.toContain('password.changed');
    expect(await sessionIds(h.app, user.id)).toHaveLength(1);
  });
});
