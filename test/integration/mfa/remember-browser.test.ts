/**
 * "Remember this browser" (mfa.rememberBrowserDays): after a second factor with the box ticked,
 * later logins in that browser ask for the password only, and the RP is told so honestly (acr
 * pwd, amr pwd). An RP asking for MFA still gets it; other browsers are still asked; the security
 * page lists remembered browsers and forgets them; a password change forgets them all. Off by
 * default.
 */
import { ACR } from '../../../src/oidc/acr.js';
import {
  agePassword,
  auditTypes,
  ENGLISH,
  landed,
  NEW_PASSWORD,
  open,
  openAndSubmit,
  signedInUser,
  startAccountHarness,
  type AccountHarness,
} from '../../helpers/account.js';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { FakeDuo } from '../../helpers/fake-duo.js';
import { en, registerClient, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, submitForm, type PageResponse } from '../../helpers/http-client.js';
import {
  followToRp,
  givesRpACode,
  isSecondStep,
  passSecondStep,
  pressOnDuoPrompt,
  recoveryCodesOnPage,
  redeemAtRp,
  rpLogin,
  totpCode,
  userWithTotp,
} from '../../helpers/mfa.js';
import { noticeText } from '../../helpers/signup-pages.js';

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const REMEMBER_COOKIE = 'monban_mfa_browser';
const DAY_MS = 86_400_000;

type Client = Awaited<ReturnType<typeof registerClient>>;

const rememberBox = (page: PageResponse) => /<input type="checkbox" name="remember" value="1">/.test(page.body);

async function rememberCookie(browser: HttpClient, issuer: string) {
  return (await browser.jar.getCookies(`${issuer}/interaction/x/password`)).find((c) => c.key === REMEMBER_COOKIE);
}

/** The remembered browsers listed on the security page: id and text. */
function listedBrowsers(html: string): { id: string; text: string }[] {
  return [...html.matchAll(/<li data-browser="([^"]+)">\s*<span>([\s\S]*?)<\/span>/g)].map((m) => ({
    id: m[1]!,
    text: m[2]!
      .replace(/<[^>]*>/g, '')
      .replace(/\s+/g, ' ')
      .trim(),
  }));
}

describe('remember this browser (mfa.rememberBrowserDays = 30)', () => {
  let duo: FakeDuo;
  let h: AccountHarness;
  let client: Client;
  beforeAll(async () => {
    duo = await new FakeDuo().start();
    h = await startAccountHarness({ mfa: { rememberBrowserDays: 30 } }, { duo });
    client = await registerClient(h.app);
  });
  afterAll(async () => {
    await h?.close();
    await duo?.stop();
  });

  const rememberedRows = (accountId: string) =>
    h.app.db.selectFrom('remembered_browsers').selectAll().where('account_id', '=', accountId).execute();

  /** Logs `browser` in at the RP with the authenticator app, the box ticked. Returns the ID token's claims. */
  async function loginAndRemember(browser: HttpClient, email: string, code: string) {
    const { auth, page } = await rpLogin(h, client, email, { browser });
    expect(isSecondStep(page)).toBe(true);
    const passed = await passSecondStep(browser, page, { code, remember: true });
    expect(passed.status).toBe(303);
    return redeemAtRp(h.issuer, client, await followToRp(browser, passed), auth.verifier);
  }

  it('offers the box on the second-factor page, for 30 days', async () => {
    const { user } = await userWithTotp(h);
    const { page } = await rpLogin(h, client, user.email, { browser: new HttpClient(ENGLISH) });
    expect(isSecondStep(page)).toBe(true);
    expect(rememberBox(page)).toBe(true);
    expect(page.body).toContain(en('mfa.remember', { days: 30 }));
    // Inside the code's form, so that ticking it goes with the code.
    expect(page.body).toMatch(/<form[^>]*id="totp-form"[^>]*>(?:(?!<\/form>)[\s\S])*name="remember"/);
  });

  it('skips the second step next time in the same browser, telling the RP it was the password only', async () => {
    const { user, secret, recoveryCodes } = await userWithTotp(h);
    const browser = new HttpClient({ ...ENGLISH, 'user-agent': FIREFOX });
    const first = await loginAndRemember(browser, user.email, totpCode(secret, 1));
    expect(first.acr).toBe(ACR.mfa);
    expect(first.amr).toEqual(['pwd', 'otp', 'mfa']);

    const cookie = await rememberCookie(browser, h.issuer);
    expect(cookie).toBeDefined();
    expect(cookie!.httpOnly).toBe(true);
    expect(cookie!.path).toBe('/interaction');
    const rows = await rememberedRows(user.id);
    expect(rows).toHaveLength(1);
    expect(Math.abs(rows[0]!.expires_at.getTime() - (Date.now() + 30 * DAY_MS))).toBeLessThan(60_000);
    expect(rows[0]!.token_hash).not.toBe(cookie!.value);
    expect(cookie!.value).not.toContain(rows[0]!.token_hash);

    // The next login in this browser: the password, and straight on to the RP.
    const second = await rpLogin(h, client, user.email, { browser, params: { prompt: 'login' } });
    expect(givesRpACode(second.page)).toBe(true);
    const claims = await redeemAtRp(h.issuer, client, second.page, second.auth.verifier);
    expect(claims.acr).toBe(ACR.password);
    expect(claims.amr).toEqual(['pwd']);

    // Another browser is still asked.
    const other = await rpLogin(h, client, user.email, { browser: new HttpClient(ENGLISH) });
    expect(isSecondStep(other.page)).toBe(true);
    expect(givesRpACode(other.page)).toBe(false);

    // An RP asking for MFA gets it, even in the remembered browser (whose session has a password only).
    const demanding = await rpLogin(h, client, user.email, { browser, params: { acr_values: ACR.mfa } });
    expect(givesRpACode(demanding.page)).toBe(false);
    expect(isSecondStep(demanding.page)).toBe(true);
    const passed = await passSecondStep(browser, demanding.page, { recoveryCode: recoveryCodes[0]! });
    const mfaClaims = await redeemAtRp(h.issuer, client, await followToRp(browser, passed), demanding.auth.verifier);
    expect(mfaClaims.acr).toBe(ACR.mfa);
    expect(mfaClaims.amr).toEqual(expect.arrayContaining(['pwd', 'mfa']));
  });

  it('is not granted by a remember cookie of another account', async () => {
    const owner = await userWithTotp(h);
    const browser = new HttpClient(ENGLISH);
    await loginAndRemember(browser, owner.user.email, totpCode(owner.secret, 1));
    // Someone else logs in with their own password in that browser: they are asked.
    const other = await userWithTotp(h);
    const { page } = await rpLogin(h, client, other.user.email, { browser, params: { prompt: 'login' } });
    expect(isSecondStep(page)).toBe(true);
  });

  it('lists the remembered browser on the security page, and "Forget" makes it ask again', async () => {
    const { user, secret, console } = await userWithTotp(h);
    const browser = new HttpClient({ ...ENGLISH, 'user-agent': FIREFOX });
    await loginAndRemember(browser, user.email, totpCode(secret, 1));
    const [row] = await rememberedRows(user.id);

    const security = await open(console, h.issuer, '/account/security');
    expect(security.body).toContain(en('account.security.rememberedBrowsers'));
    const listed = listedBrowsers(security.body);
    expect(listed.map((b) => b.id)).toEqual([row!.id]);
    expect(listed[0]!.text).toContain('Firefox 128');
    expect(listed[0]!.text).toContain('Linux');
    expect(listed[0]!.text).toContain(
      en('account.security.rememberedUntil', {
        when: new Intl.DateTimeFormat('en', { timeZone: 'UTC', dateStyle: 'long' }).format(row!.expires_at),
      }),
    );
    expect(security.body).toContain(en('account.security.forgetBrowser'));

    // Another account's browser cannot be forgotten from here.
    const stranger = await userWithTotp(h);
    await loginAndRemember(new HttpClient(ENGLISH), stranger.user.email, totpCode(stranger.secret, 1));
    const [strangerRow] = await rememberedRows(stranger.user.id);
    const foreign = await submitForm(console, security, '/account/security/browsers/forget', {
      browser_id: strangerRow!.id,
    });
    expect(foreign.status).toBe(303);
    expect(foreign.location).toBe(`${h.issuer}/account/security`);
    expect(await rememberedRows(stranger.user.id)).toHaveLength(1);

    const forgotten = await submitForm(console, security, '/account/security/browsers/forget', { browser_id: row!.id });
    expect(forgotten.status).toBe(303);
    expect(forgotten.location).toBe(`${h.issuer}/account/security?done=browser-forgotten`);
    const after = await landed(console, forgotten);
    expect(noticeText(after.body)).toBe(en('account.done.browser-forgotten'));
    expect(listedBrowsers(after.body)).toEqual([]);
    expect(after.body).not.toContain(en('account.security.rememberedBrowsers'));
    expect(await rememberedRows(user.id)).toEqual([]);
    expect(await auditTypes(h.app, user.id)).toContain('mfa.browser_forgotten');

    // That browser still has its cookie, but it counts for nothing now.
    expect(await rememberCookie(browser, h.issuer)).toBeDefined();
    const next = await rpLogin(h, client, user.email, { browser, params: { prompt: 'login' } });
    expect(givesRpACode(next.page)).toBe(false);
    expect(isSecondStep(next.page)).toBe(true);
  });

  it('changing the password forgets every remembered browser', async () => {
    const { user, secret, console } = await userWithTotp(h);
    const browser = new HttpClient(ENGLISH);
    await loginAndRemember(browser, user.email, totpCode(secret, 1));
    expect(await rememberedRows(user.id)).toHaveLength(1);

    await agePassword(h.app, user.id);
    const changed = await openAndSubmit(console, h.issuer, '/account/security/password', '/account/security/password', {
      current_password: TEST_PASSWORD,
      password: NEW_PASSWORD,
      password_confirmation: NEW_PASSWORD,
    });
    expect(changed.status).toBe(303);
    expect(changed.location).toBe(`${h.issuer}/account/login`);
    expect(await rememberedRows(user.id)).toEqual([]);

    const next = await rpLogin(h, client, user.email, { browser, password: NEW_PASSWORD });
    expect(givesRpACode(next.page)).toBe(false);
    expect(isSecondStep(next.page)).toBe(true);
  });

  it('turning MFA off forgets the remembered browsers too', async () => {
    const { user, secret, console } = await userWithTotp(h);
    const browser = new HttpClient(ENGLISH);
    await loginAndRemember(browser, user.email, totpCode(secret, 1));
    const security = await open(console, h.issuer, '/account/security');
    const off = await submitForm(console, security, '/account/security/mfa/off', { current_password: TEST_PASSWORD });
    expect(off.location).toBe(`${h.issuer}/account/security?done=mfa-off`);
    expect(await rememberedRows(user.id)).toEqual([]);
  });

  it('remembers the browser after a Duo approval with the box ticked', async () => {
    const { user, browser: consoleBrowser } = await signedInUser(h);
    const choice = await open(consoleBrowser, h.issuer, '/account/security/mfa');
    const toDuo = await submitForm(consoleBrowser, choice, '/account/security/mfa', {
      method: 'duo',
      current_password: TEST_PASSWORD,
    });
    expect(
      recoveryCodesOnPage(await consoleBrowser.follow((await pressOnDuoPrompt(duo, toDuo.location!, 'allow')).back)),
    ).toHaveLength(10);

    const browser = new HttpClient(ENGLISH);
    const { auth, page } = await rpLogin(h, client, user.email, { browser });
    expect(page.body).toMatch(/<form[^>]*id="duo-form"[^>]*>(?:(?!<\/form>)[\s\S])*name="remember"/);
    expect(page.body).toContain(en('mfa.remember', { days: 30 }));
    const started = await submitForm(browser, page, '/mfa/duo', { remember: '1' });
    const passed = await browser.request((await pressOnDuoPrompt(duo, started.location!, 'allow')).back);
    expect(passed.status).toBe(303);
    expect((await redeemAtRp(h.issuer, client, await followToRp(browser, passed), auth.verifier)).amr).toEqual([
      'pwd',
      'mfa',
    ]);

    // The box was ticked: the browser is remembered like after an authenticator code.
    expect(await rememberedRows(user.id)).toHaveLength(1);
    const next = await rpLogin(h, client, user.email, { browser, params: { prompt: 'login' } });
    expect(givesRpACode(next.page)).toBe(true);
    expect((await redeemAtRp(h.issuer, client, next.page, next.auth.verifier)).acr).toBe(ACR.password);
  });
});

describe('remember this browser, off by default', () => {
  let t: TestApp;
  let client: Client;
  beforeAll(async () => {
    t = await startTestApp();
    client = await registerClient(t.app);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('offers no box, and remembers nothing even if asked', async () => {
    const { user, secret } = await userWithTotp(t);
    const browser = new HttpClient(ENGLISH);
    const { auth, page } = await rpLogin(t, client, user.email, { browser });
    expect(isSecondStep(page)).toBe(true);
    expect(page.body).not.toContain('name="remember"');
    expect(page.body).not.toContain(en('mfa.remember', { days: 30 }).slice(0, 20));

    const passed = await passSecondStep(browser, page, { code: totpCode(secret, 1), remember: true });
    expect((await redeemAtRp(t.issuer, client, await followToRp(browser, passed), auth.verifier)).acr).toBe(ACR.mfa);
    expect(await rememberCookie(browser, t.issuer)).toBeUndefined();
    expect(
      await t.app.db.selectFrom('remembered_browsers').select('id').where('account_id', '=', user.id).execute(),
    ).toEqual([]);

    const next = await rpLogin(t, client, user.email, { browser, params: { prompt: 'login' } });
    expect(givesRpACode(next.page)).toBe(false);
    expect(isSecondStep(next.page)).toBe(true);
  });
});
