/**
 * L3: the login's second step with an authenticator app or a recovery code. The password alone
 * gives the RP nothing; codes work once; guesses are throttled per account even when fired in
 * parallel; the RP learns how the user logged in (amr, acr) and can ask for MFA (acr_values),
 * which an account without a factor then sets up inside the login.
 */
import { ACR } from '../../../src/oidc/acr.js';
import {
  auditTypes,
  ENGLISH,
  isLoginPage,
  startAccountHarness,
  textOf,
  open,
  type AccountHarness,
} from '../../helpers/account.js';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import {
  authorizationUrl,
  en,
  ja,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import {
  alertText,
  expectNoInternals,
  formAction,
  hiddenInputs,
  HttpClient,
  submitForm,
  interactionUid,
} from '../../helpers/http-client.js';
import {
  followToRp,
  givesRpACode,
  isSecondStep,
  passSecondStep,
  recoveryCodesOnPage,
  recoveryForm,
  redeemAtRp,
  rpLogin,
  secretOnPage,
  totpCode,
  userWithTotp,
  wrongTotpCode,
} from '../../helpers/mfa.js';

const JAPANESE = { 'accept-language': 'ja' };

type Client = Awaited<ReturnType<typeof registerClient>>;
interface Harness {
  app: AccountHarness['app'];
  issuer: string;
}

/** The details (amr) of the successful logins of an account at a client, oldest first. */
async function rpLoginsOf(app: Harness['app'], accountId: string, clientId: string): Promise<unknown[]> {
  const rows = await app.db
    .selectFrom('audit_events')
    .select('details')
    .where('account_id', '=', accountId)
    .where('client_id', '=', clientId)
    .where('type', '=', 'login.succeeded')
    .orderBy('id')
    .execute();
  return rows.map((r) => r.details);
}

const uidOf = interactionUid;

describe('login with a second factor (L3)', () => {
  let h: AccountHarness;
  let client: Client;
  beforeAll(async () => {
    h = await startAccountHarness();
    client = await registerClient(h.app);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('asks for the code after the password, and tells the RP amr pwd+otp+mfa and acr mfa', async () => {
    const { user, secret } = await userWithTotp(h);
    const { browser, auth, page } = await rpLogin(h, client, user.email);
    expect(page.status).toBe(200);
    expect(page.location).toBeUndefined();
    expect(isSecondStep(page)).toBe(true);
    expect(page.headers.get('cache-control')).toMatch(/no-store/);
    expect(page.body).toContain(en('mfa.heading'));
    expect(page.body).toContain(en('mfa.totpCode'));
    expect(textOf(page.body, 'login-email')).toBe(user.email);
    expect(page.body).toContain(en('login.continueTo', { client: 'Test RP' }));
    // No "remember this browser" unless configured, and no Duo for an authenticator-app account.
    expect(page.body).not.toContain('name="remember"');
    expect(page.body).not.toContain('id="duo-form"');
    expect(page.body).toContain(en('mfa.useRecoveryCode'));

    const passed = await passSecondStep(browser, page, { code: totpCode(secret, 1) });
    expect(passed.status).toBe(303);
    const toRp = await followToRp(browser, passed);
    expect(new URL(toRp.location!).searchParams.get('state')).toBe(auth.state);
    const claims = await redeemAtRp(h.issuer, client, toRp, auth.verifier);
    expect(claims.sub).toBe(user.id);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.acr).toBe(ACR.mfa);
    expect(claims.nonce).toBe(auth.nonce);
    expect(await rpLoginsOf(h.app, user.id, client.client_id)).toEqual([{ amr: ['pwd', 'otp', 'mfa'] }]);
  });

  it('refuses a wrong code with 401 and says so, in English and in Japanese', async () => {
    const { user, secret } = await userWithTotp(h);
    const { browser, page } = await rpLogin(h, client, user.email);
    const wrong = await passSecondStep(browser, page, { code: wrongTotpCode(secret) });
    expect(wrong.status).toBe(401);
    expect(wrong.location).toBeUndefined();
    expect(alertText(wrong.body)).toBe(en('errors.MFA_CODE_WRONG'));
    expect(formAction(wrong.body, '/mfa/totp')).toBeDefined();
    expectNoInternals(wrong);
    // Not a code at all.
    const junk = await passSecondStep(browser, wrong, { code: 'abc<script>' });
    expect(junk.status).toBe(401);
    expect(alertText(junk.body)).toBe(en('errors.MFA_CODE_WRONG'));
    expect(junk.body).not.toContain('abc<script>');

    const jaLogin = await rpLogin(h, client, user.email, { browser: new HttpClient(JAPANESE) });
    expect(jaLogin.page.body).toContain(ja('mfa.totpCode'));
    const jaWrong = await passSecondStep(jaLogin.browser, jaLogin.page, { code: wrongTotpCode(secret) });
    expect(jaWrong.status).toBe(401);
    expect(alertText(jaWrong.body)).toBe(ja('errors.MFA_CODE_WRONG'));

    const failed = await h.app.db
      .selectFrom('audit_events')
      .select('details')
      .where('account_id', '=', user.id)
      .where('type', '=', 'mfa.failed')
      .execute();
    expect(failed.map((r) => r.details)).toEqual([{ kind: 'totp' }, { kind: 'totp' }, { kind: 'totp' }]);
    expect(await rpLoginsOf(h.app, user.id, client.client_id)).toEqual([]);
  });

  it('accepts each code once: the same code in a second login is refused, and so is an older one', async () => {
    const { user, secret } = await userWithTotp(h);
    const code = totpCode(secret, 1);
    const first = await rpLogin(h, client, user.email);
    const toRp = await followToRp(first.browser, await passSecondStep(first.browser, first.page, { code }));
    expect((await redeemAtRp(h.issuer, client, toRp, first.auth.verifier)).acr).toBe(ACR.mfa);

    const second = await rpLogin(h, client, user.email);
    const replayed = await passSecondStep(second.browser, second.page, { code });
    expect(replayed.status).toBe(401);
    expect(alertText(replayed.body)).toBe(en('errors.MFA_CODE_WRONG'));
    // The code used to turn it on, still inside the window of clock drift, is older: refused too.
    const older = await passSecondStep(second.browser, replayed, { code: totpCode(secret, 0) });
    expect(older.status).toBe(401);
    expect(givesRpACode(older)).toBe(false);
  });

  it('cannot be skipped: after the password alone, nothing hands the RP a code', async () => {
    const { user } = await userWithTotp(h);
    const { browser, auth, page } = await rpLogin(h, client, user.email);
    expect(isSecondStep(page)).toBe(true);
    const uid = uidOf(page);
    const csrf = hiddenInputs(page.body, '/mfa/totp')._csrf!;

    // Pressing "Allow" of a consent page that was never shown.
    const confirm = await browser.request(`${h.issuer}/interaction/${uid}/confirm`, { form: { _csrf: csrf } });
    expect(confirm.status).toBe(400);
    expect(givesRpACode(confirm)).toBe(false);
    expectNoInternals(confirm);
    // Setting up another factor with the password alone: the page asks for the existing one instead.
    const setup = await browser.request(`${h.issuer}/interaction/${uid}/mfa/setup`);
    expect(setup.status).toBe(200);
    expect(setup.body).toContain(`action="/interaction/${uid}/mfa/totp"`);
    const chosen = await browser.request(`${h.issuer}/interaction/${uid}/mfa/setup`, {
      form: { _csrf: csrf, method: 'totp' },
    });
    expect(chosen.status).toBe(200);
    expect(chosen.body).not.toContain('id="totp-secret"');
    expect(
      await h.app.db.selectFrom('mfa_factors').select('state').where('account_id', '=', user.id).execute(),
    ).toEqual([{ state: 'active' }]);
    const totpSetup = await browser.request(`${h.issuer}/interaction/${uid}/mfa/setup/totp`);
    expect(totpSetup.body).not.toContain('id="totp-secret"');
    expect(givesRpACode(totpSetup)).toBe(false);
    // An empty recovery code.
    const empty = await browser.request(`${h.issuer}/interaction/${uid}/mfa/recovery`, {
      form: { _csrf: csrf, recovery_code: '' },
    });
    expect(empty.status).toBe(401);
    expect(givesRpACode(empty)).toBe(false);

    // A browser that never passed the password cannot use the second step's pages at all.
    const stranger = new HttpClient(ENGLISH);
    const strangerPage = await stranger.follow(authorizationUrl(h.issuer, client.client_id).url);
    const strangerUid = uidOf(strangerPage);
    const strangerCsrf = hiddenInputs(strangerPage.body, '/email')._csrf!;
    const guessed = await stranger.request(`${h.issuer}/interaction/${strangerUid}/mfa/recovery`, {
      form: { _csrf: strangerCsrf, recovery_code: 'AAAAA-AAAAA' },
    });
    expect(givesRpACode(guessed)).toBe(false);
    expect(isLoginPage(guessed)).toBe(true);

    // Back to the authorization endpoint (the resume URL), the login's first page, or the
    // authorization request again: the login starts over, no code.
    for (const url of [`${h.issuer}/auth/${uid}`, `${h.issuer}/interaction/${uid}`, auth.url]) {
      const res = await browser.follow(url, RP_CALLBACK);
      expect(givesRpACode(res)).toBe(false);
      expect(res.location ?? '').not.toContain(RP_CALLBACK);
      expect(res.status).toBeLessThan(500);
    }
    expect(await rpLoginsOf(h.app, user.id, client.client_id)).toEqual([]);
  });

  it('a recovery code logs in once; the same code a second time is refused', async () => {
    const { user, recoveryCodes, console } = await userWithTotp(h);
    const first = await rpLogin(h, client, user.email);
    const form = await recoveryForm(first.browser, first.page);
    expect(form.body).toContain(en('mfa.recoveryHint'));
    // Typed the way people type from paper: lower case, a space instead of the dash.
    const typed = recoveryCodes[3]!.toLowerCase().replace('-', ' ');
    const passed = await passSecondStep(first.browser, form, { recoveryCode: typed });
    expect(passed.status).toBe(303);
    const claims = await redeemAtRp(h.issuer, client, await followToRp(first.browser, passed), first.auth.verifier);
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'mfa']));
    expect(claims.acr).toBe(ACR.mfa);
    expect(textOf((await open(console, h.issuer, '/account/security')).body, 'recovery-codes-left')).toBe(
      en('account.security.recoveryCodesLeft', { count: 9 }),
    );

    const second = await rpLogin(h, client, user.email);
    const again = await passSecondStep(second.browser, second.page, { recoveryCode: recoveryCodes[3]! });
    expect(again.status).toBe(401);
    expect(alertText(again.body)).toBe(en('errors.RECOVERY_CODE_WRONG'));
    expect(givesRpACode(again)).toBe(false);
    // The recovery form stays open after the error, and another code still works.
    expect(formAction(again.body, '/mfa/recovery')).toBeDefined();
    const other = await submitForm(second.browser, again, '/mfa/recovery', { recovery_code: recoveryCodes[4]! });
    expect(other.status).toBe(303);
    expect(givesRpACode(await followToRp(second.browser, other))).toBe(true);
    // Another account's codes are worth nothing here.
    const stranger = await userWithTotp(h);
    const third = await rpLogin(h, client, user.email);
    const foreign = await passSecondStep(third.browser, third.page, { recoveryCode: stranger.recoveryCodes[0]! });
    expect(foreign.status).toBe(401);
  });

  it('an RP asking for MFA makes an account without it set it up inside the login, then goes on with acr mfa', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const { browser, auth, page } = await rpLogin(h, client, user.email, { params: { acr_values: ACR.mfa } });
    expect(page.status).toBe(200);
    expect(page.url).toMatch(/\/interaction\/[^/]+\/mfa\/setup$/);
    expect(givesRpACode(page)).toBe(false);
    expect(page.body).toContain(en('mfa.setup.requiredBy', { client: 'Test RP' }));
    expect(page.body).toContain('value="totp"');
    expect(page.body).not.toContain('value="duo"');

    const noMethod = await submitForm(browser, page, '/mfa/setup', { method: '' });
    expect(noMethod.status).toBe(400);
    expect(alertText(noMethod.body)).toBe(en('errors.MFA_METHOD_REQUIRED'));

    const chosen = await submitForm(browser, noMethod, '/mfa/setup', { method: 'totp' });
    expect(chosen.status).toBe(303);
    const setup = await browser.follow(chosen.location!);
    expect(setup.status).toBe(200);
    expect(setup.body).toContain(en('mfa.setup.totpHeading'));
    expect(setup.body).toMatch(/id="totp-qr"/);
    const secret = secretOnPage(setup);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);

    const wrong = await submitForm(browser, setup, '/mfa/setup/totp', { code: wrongTotpCode(secret) });
    expect(wrong.status).toBe(401);
    expect(alertText(wrong.body)).toBe(en('errors.MFA_CODE_WRONG'));
    expect(
      await h.app.db.selectFrom('mfa_factors').select('state').where('account_id', '=', user.id).execute(),
    ).toEqual([{ state: 'pending' }]);

    const done = await browser.follow(
      (await submitForm(browser, wrong, '/mfa/setup/totp', { code: totpCode(secret) })).location!,
    );
    expect(done.status).toBe(200);
    expect(done.body).toContain(en('mfa.codes.on'));
    const codes = recoveryCodesOnPage(done);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    const continueUrl = done.body.match(/<a href="([^"]+)"[^>]*id="continue"/)?.[1];
    expect(continueUrl).toBeDefined();
    expect(done.body).toContain(en('mfa.codes.continue'));
    expect(
      await h.app.db.selectFrom('mfa_factors').select(['kind', 'state']).where('account_id', '=', user.id).execute(),
    ).toEqual([{ kind: 'totp', state: 'active' }]);

    const toRp = await followToRp(browser, {
      ...done,
      location: new URL(continueUrl!.replace(/&amp;/g, '&'), done.url).toString(),
    });
    const claims = await redeemAtRp(h.issuer, client, toRp, auth.verifier);
    expect(claims.acr).toBe(ACR.mfa);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    await h.mail.waitFor(user.email, (m) => m.subject === en('emails.mfaEnabled.subject'));
    expect(await auditTypes(h.app, user.id)).toEqual(expect.arrayContaining(['mfa.enabled', 'login.succeeded']));
  });

  it('an RP that does not ask gets acr pwd and amr pwd for an account without MFA; asking for MFA later means logging in again', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const { browser, auth, page } = await rpLogin(h, client, user.email);
    expect(givesRpACode(page)).toBe(true);
    const claims = await redeemAtRp(h.issuer, client, page, auth.verifier);
    expect(claims.acr).toBe(ACR.password);
    expect(claims.amr).toEqual(['pwd']);

    // Same browser, its session has a password only: an MFA request is not answered silently.
    const mfaAuth = authorizationUrl(h.issuer, client.client_id, { acr_values: ACR.mfa });
    const asked = await browser.follow(mfaAuth.url, RP_CALLBACK);
    expect(givesRpACode(asked)).toBe(false);
    expect(asked.status).toBe(200);
    expect(isLoginPage(asked)).toBe(true);
    // ... while a request that does not ask for MFA still gets single sign-on.
    const plain = authorizationUrl(h.issuer, client.client_id);
    expect(givesRpACode(await browser.follow(plain.url, RP_CALLBACK))).toBe(true);
  });

  it('a session that passed the second factor satisfies a later MFA request without asking again', async () => {
    const { user, secret } = await userWithTotp(h);
    const first = await rpLogin(h, client, user.email);
    await redeemAtRp(
      h.issuer,
      client,
      await followToRp(first.browser, await passSecondStep(first.browser, first.page, { code: totpCode(secret, 1) })),
      first.auth.verifier,
    );
    const mfaAuth = authorizationUrl(h.issuer, client.client_id, { acr_values: ACR.mfa });
    const toRp = await first.browser.follow(mfaAuth.url, RP_CALLBACK);
    const claims = await redeemAtRp(h.issuer, client, toRp, mfaAuth.verifier);
    expect(claims.acr).toBe(ACR.mfa);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
  });
});

describe('second-factor throttle under parallel guessing (L3)', () => {
  let t: TestApp;
  let client: Client;
  beforeAll(async () => {
    t = await startTestApp();
    client = await registerClient(t.app);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('lets at most 10 of 50 parallel wrong codes be checked; the rest, and then even the right code, get 429', async () => {
    const { user, secret, recoveryCodes } = await userWithTotp(t);
    const { browser, page } = await rpLogin(t, client, user.email);
    expect(isSecondStep(page)).toBe(true);
    const action = new URL(formAction(page.body, '/mfa/totp')!, page.url).toString();
    const fields = hiddenInputs(page.body, '/mfa/totp');
    const wrong = wrongTotpCode(secret);

    const answers = await Promise.all(
      Array.from({ length: 50 }, () => browser.request(action, { form: { ...fields, code: wrong } })),
    );
    const statuses = answers.map((a) => a.status);
    const checked = answers.filter((a) => a.status === 401);
    const refused = answers.filter((a) => a.status === 429);
    expect(checked.length + refused.length).toBe(50);
    expect(checked.length).toBeLessThanOrEqual(10);
    expect(checked.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
    for (const a of checked) expect(alertText(a.body)).toBe(en('errors.MFA_CODE_WRONG'));
    for (const a of refused) {
      expect(alertText(a.body)).toBe(en('errors.TOO_MANY_ATTEMPTS', { minutes: 15 }));
      expectNoInternals(a);
    }

    // The right code now, and a recovery code, are refused too: nothing is checked while blocked.
    const right = await browser.request(action, { form: { ...fields, code: totpCode(secret, 1) } });
    expect(right.status).toBe(429);
    expect(givesRpACode(right)).toBe(false);
    expect(alertText(right.body)).toBe(en('errors.TOO_MANY_ATTEMPTS', { minutes: 15 }));
    const recovery = await passSecondStep(browser, page, { recoveryCode: recoveryCodes[0]! });
    expect(recovery.status).toBe(429);
    const unused = await t.app.db
      .selectFrom('recovery_codes')
      .select('id')
      .where('account_id', '=', user.id)
      .where('used_at', 'is', null)
      .execute();
    expect(unused).toHaveLength(10);

    // The limit is the account's, not the browser's: another browser with the password is blocked as well.
    const other = await rpLogin(t, client, user.email);
    const otherTry = await passSecondStep(other.browser, other.page, { code: totpCode(secret, 1) });
    expect(otherTry.status).toBe(429);

    const types = await auditTypes(t.app, user.id);
    expect(types.filter((type) => type === 'mfa.failed')).toHaveLength(checked.length);
    expect(types.filter((type) => type === 'mfa.throttled')).toHaveLength(refused.length + 3);
    expect(await rpLoginsOf(t.app, user.id, client.client_id)).toEqual([]);
  });
});

describe('the second step expires (L3)', () => {
  let t: TestApp;
  let client: Client;
  beforeAll(async () => {
    // Long enough for a slow machine (PGlite under load) to reach the second step in time.
    t = await startTestApp({ overrides: { mfa: { stepSeconds: 4 } } });
    client = await registerClient(t.app);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('sends a code that comes too long after the password back to the login, which then works again', async () => {
    const { user, secret } = await userWithTotp(t);
    const { browser, auth, page } = await rpLogin(t, client, user.email, { browser: new HttpClient(JAPANESE) });
    expect(isSecondStep(page)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 4500));

    const late = await passSecondStep(browser, page, { code: totpCode(secret, 1) });
    expect(givesRpACode(late)).toBe(false);
    expect(isLoginPage(late)).toBe(true);
    expect(alertText(late.body)).toBe(ja('errors.MFA_STEP_EXPIRED'));
    expectNoInternals(late);
    const expiredPage = await browser.request(page.url);
    expect(isLoginPage(expiredPage)).toBe(true);

    // Logging in again (password, then at once the code) works, with the code that came too late.
    const passwordPage = await submitForm(browser, late, '/email', { email: user.email });
    const secondStep = await browser.follow(
      (await submitForm(browser, passwordPage, '/password', { password: TEST_PASSWORD })).location!,
    );
    expect(isSecondStep(secondStep)).toBe(true);
    const passed = await passSecondStep(browser, secondStep, { code: totpCode(secret, 1) });
    expect(passed.status).toBe(303);
    expect((await redeemAtRp(t.issuer, client, await followToRp(browser, passed), auth.verifier)).acr).toBe(ACR.mfa);
  });
});
