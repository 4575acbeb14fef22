/**
 * End to end second factors (L3, PR5) in a real Chromium, against the app on PostgreSQL and
 * Redis, with openid-client as the relying party and everything on loopback:
 * - the authenticator app turned on in the account console (QR code and key, a code from an
 *   independent TOTP implementation, ten recovery codes), then an RP login that asks for the next
 *   code after the password (the enrollment's code is refused: each time step works once) and
 *   tells the RP amr ["pwd","otp","mfa"] and acr mfa;
 * - a recovery code instead of the app: accepted once, refused the second time;
 * - the second step in Japanese (ui_locales=ja);
 * - an RP that asks for MFA (acr_values) from an account without it: set up during the login;
 * - Duo through a fake Universal Prompt over HTTPS (self-signed, on 127.0.0.1): turned on in the
 *   console with Approve, an RP login with Approve (amr ["pwd","mfa"]), and one with Deny that
 *   never reaches the RP with a code.
 * Texts come from views/locales/en.json (messageText); the Japanese ones are written out.
 */
import type { Browser } from 'playwright-core';
import { remainingRecoveryCodes } from '../../src/identity/factors/recovery-codes.js';
import { activeFactor } from '../../src/identity/factors/repository.js';
import { signedInUser } from '../helpers/account.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { launchBrowser, RpBrowser, waitForInteractionAddress } from '../helpers/browser.js';
import { FakeDuo } from '../helpers/fake-duo.js';
import { en, messageText, registerClient, registerUser, RP_CALLBACK, TEST_PASSWORD } from '../helpers/fixtures.js';
import { enableTotp, totpCode, wrongTotpCode } from '../helpers/mfa.js';
import { RelyingParty, type PendingAuthorization } from '../helpers/rp.js';

const RP_ORIGIN = new URL(RP_CALLBACK).origin;
const ACR_MFA = 'urn:monban:acr:mfa';
const JOURNEY_TIMEOUT_MS = 90_000;
const SETUP_TIMEOUT_MS = 120_000;
/** Crockford base32 in two groups of five, as the recovery codes are made. */
const RECOVERY_CODE = /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/;

type User = Awaited<ReturnType<typeof registerUser>>;

/** The first step of a login, in whatever language: email, Next, password, Log in. */
async function enterPassword(b: RpBrowser, email: string, password = TEST_PASSWORD): Promise<void> {
  const { page } = b;
  await page.locator('#email').fill(email);
  await page.locator('form[action$="/email"] button[type=submit]').click();
  await page.locator('#password').waitFor();
  await waitForInteractionAddress(page, '/password');
  expect(await page.locator('#login-email').innerText()).toBe(email);
  await page.locator('#password').fill(password);
  await page.locator('form[action$="/password"] button[type=submit]').click();
}

/** Logs the browser in to the account console (an account without MFA) and waits for the hub. */
async function signInToConsole(b: RpBrowser, issuer: string, email: string): Promise<void> {
  await b.page.goto(`${issuer}/account`);
  await enterPassword(b, email);
  await b.page.waitForURL(`${issuer}/account`);
  await b.page.locator('#account-id').waitFor();
}

/** Logs the console out with its button; the shared session (single sign-on) is over. */
async function logOutOfConsole(b: RpBrowser, t: TestApp, user: User): Promise<void> {
  await b.page.goto(`${t.issuer}/account`);
  await b.page.locator('#logout').click();
  await b.page.waitForURL(`${t.issuer}/account/logged-out`);
  expect(await b.heading()).toBe(en('account.loggedOut.title'));
  expect(
    await t.app.db.selectFrom('account_sessions').select('session_id').where('account_id', '=', user.id).execute(),
  ).toEqual([]);
}

/** The security page's MFA section: on (with the kind) or off. */
async function expectMfaStatus(b: RpBrowser, issuer: string, kind: 'totp' | 'duo' | ''): Promise<void> {
  const { page } = b;
  if (new URL(page.url()).pathname !== '/account/security') await page.goto(`${issuer}/account/security`);
  const status = page.locator('#mfa-status');
  expect(await status.getAttribute('data-kind')).toBe(kind);
  const text = await status.innerText();
  if (kind === '') {
    expect(text).toBe(en('account.security.mfaNone'));
    expect(await page.locator('#mfa-on').innerText()).toBe(en('account.security.mfaOn'));
  } else {
    const since = text.match(/\(since (.+)\)$/)?.[1] ?? '';
    expect(since).not.toBe('');
    expect(text).toBe(en(kind === 'duo' ? 'account.security.mfaOnDuo' : 'account.security.mfaOnTotp', { since }));
    expect(await page.locator('#recovery-codes-left').innerText()).toBe(
      en('account.security.recoveryCodesLeft', { count: 10 }),
    );
    expect(await page.locator('#mfa-on').count()).toBe(0);
  }
}

/** From the security page to the method choice, with the password; presses Next. */
async function chooseMethod(b: RpBrowser, method: 'totp' | 'duo', duoOffered: boolean): Promise<void> {
  const { page } = b;
  await page.locator('#mfa-on').click();
  await page.waitForURL((url) => url.pathname === '/account/security/mfa');
  expect(await b.heading()).toBe(en('mfa.setup.heading'));
  expect(await page.locator('#method-totp').isChecked()).toBe(true);
  expect(await page.locator('#method-duo').count()).toBe(duoOffered ? 1 : 0);
  await page.locator(`#method-${method}`).check();
  const password = page.locator('#current_password');
  expect(await password.getAttribute('type')).toBe('password');
  await password.fill(TEST_PASSWORD);
  await page.locator('#mfa-next').click();
}

/** The recovery codes page (console or login): ten distinct codes; returns them. */
async function readRecoveryCodes(b: RpBrowser): Promise<string[]> {
  const items = b.page.locator('#recovery-codes li code');
  await items.first().waitFor();
  expect(await b.heading()).toBe(en('mfa.codes.heading'));
  const codes = (await items.allInnerTexts()).map((c) => c.trim());
  expect(codes).toHaveLength(10);
  expect(new Set(codes).size).toBe(10);
  for (const code of codes) expect(code).toMatch(RECOVERY_CODE);
  return codes;
}

/** The second step of a login is showing, in English, for `email`. */
async function expectSecondStep(b: RpBrowser, email: string, kind: 'totp' | 'duo'): Promise<void> {
  const { page } = b;
  await page.locator(kind === 'totp' ? '#totp-form #code' : '#duo-form #duo-start').waitFor();
  expect(new URL(page.url()).pathname).toMatch(/^\/interaction\/[^/]+\/mfa(\/.*)?$/);
  expect(await b.htmlLang()).toBe('en');
  expect(await b.heading()).toBe(en('mfa.heading'));
  expect(await page.locator('#login-email').innerText()).toBe(email);
  expect(await page.locator('#totp-form').count()).toBe(kind === 'totp' ? 1 : 0);
  expect(await page.locator('#duo-form').count()).toBe(kind === 'duo' ? 1 : 0);
  if (kind === 'totp') {
    expect(await page.locator('label[for=code]').innerText()).toBe(en('mfa.totpCode'));
  } else {
    expect(await page.locator('#duo-start').innerText()).toBe(en('mfa.duoStart'));
  }
}

/** The page's error message (role=alert). */
async function alertText(b: RpBrowser): Promise<string> {
  const alert = b.page.locator('#form-error[role=alert]');
  await alert.waitFor();
  return (await alert.innerText()).trim();
}

/**
 * After the second step: the consent page if this client has not been allowed yet (Allow is
 * pressed), then the relying party. Returns the callback URL.
 */
async function arriveAtRp(b: RpBrowser, lang: 'en' | 'ja' = 'en'): Promise<URL> {
  const { page } = b;
  const allow = page.getByRole('button', { name: messageText(lang, 'consent.allow'), exact: true });
  const atRp = page.getByRole('heading', { name: 'Test RP', exact: true });
  await allow.or(atRp).waitFor({ timeout: 20_000 });
  if (await allow.isVisible()) {
    expect(await b.heading()).toBe(messageText(lang, 'consent.heading', { client: 'Test RP' }));
    await allow.click();
  }
  return b.waitForRp(RP_CALLBACK, 20_000);
}

/** The fake Duo's prompt is showing, for `email`. */
async function expectDuoPrompt(b: RpBrowser, duo: FakeDuo, email: string): Promise<void> {
  await b.page.waitForURL((url) => url.origin === duo.baseUrl && url.pathname === '/oauth/v1/authorize');
  expect(await b.page.locator('#duo-user').innerText()).toBe(email);
}

/** The RP's view of the login: the callback is right, the code redeems, the ID token says MFA. */
async function expectMfaLogin(
  rp: RelyingParty,
  callback: URL,
  pending: PendingAuthorization,
  issuer: string,
  user: User,
  amr: string[],
): Promise<void> {
  expect(`${callback.origin}${callback.pathname}`).toBe(RP_CALLBACK);
  expect(callback.searchParams.get('error')).toBeNull();
  expect(callback.searchParams.get('iss')).toBe(issuer);
  const tokens = await rp.redeem(callback, pending);
  const claims = tokens.claims()!;
  expect(claims.sub).toBe(user.id);
  expect(claims.nonce).toBe(pending.nonce);
  expect(claims.amr).toEqual(amr);
  expect(claims.acr).toBe(ACR_MFA);
  expect(typeof claims.auth_time).toBe('number');
  expect(Math.abs(Number(claims.auth_time) - Date.now() / 1000)).toBeLessThan(120);
}

describe('second factors end to end in a real browser (L3, PR5)', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchBrowser();
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
  }, SETUP_TIMEOUT_MS);

  describe('authenticator app', () => {
    let t: TestApp;
    let rp: RelyingParty;

    beforeAll(async () => {
      t = await startTestApp();
      const registered = await registerClient(t.app);
      rp = await RelyingParty.discover(t.issuer, registered.client_id, registered.client_secret!);
    }, SETUP_TIMEOUT_MS);

    afterAll(async () => {
      await t?.close();
    }, SETUP_TIMEOUT_MS);

    /** A user with the authenticator app on, set up over HTTP through the same console forms. */
    async function userWithTotp(): Promise<{ user: User; secret: string; recoveryCodes: string[] }> {
      const { user, browser: http } = await signedInUser(t);
      const { secret, recoveryCodes } = await enableTotp(http, t.issuer);
      expect(recoveryCodes).toHaveLength(10);
      return { user, secret, recoveryCodes };
    }

    it(
      'turns the authenticator app on in the console, then asks an RP login for its code',
      async () => {
        const user = await registerUser(t.app, { locale: 'en' });
        const b = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: 'en-US' });
        const { page } = b;
        try {
          // 1. The console: MFA is off; turn the authenticator app on.
          await signInToConsole(b, t.issuer, user.email);
          await expectMfaStatus(b, t.issuer, '');
          await chooseMethod(b, 'totp', false);

          await page.waitForURL((url) => url.pathname === '/account/security/mfa/totp');
          expect(await b.heading()).toBe(en('mfa.setup.totpHeading'));
          const qr = page.locator('#totp-qr');
          expect(await qr.isVisible()).toBe(true);
          expect(await qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
          expect(await qr.getAttribute('alt')).toBe(en('mfa.setup.qrAlt'));
          // The browser decoded the image: it is a real picture, not a broken one.
          expect(
            await qr.evaluate((img) => {
              const image = img as unknown as { complete: boolean; naturalWidth: number; naturalHeight: number };
              return image.complete && image.naturalWidth > 0 && image.naturalHeight > 0;
            }),
          ).toBe(true);
          const shown = (await page.locator('#totp-secret').innerText()).trim();
          expect(shown).toMatch(/^[A-Z2-7]{4}( [A-Z2-7]{4})*$/);
          const secret = shown.replace(/\s+/g, '');
          expect(secret).toHaveLength(32); // 160 bits
          expect(
            await page
              .locator('#totp-secret')
              .locator('xpath=..')
              .locator('xpath=following-sibling::p')
              .first()
              .innerText(),
          ).toBe(en('mfa.setup.account', { email: user.email }));

          // A wrong code first: refused, the same key stays on the page.
          const enrolledAt = Date.now();
          const enrollmentCode = totpCode(secret, 0, enrolledAt);
          await page.locator('#code').fill(wrongTotpCode(secret));
          await page.locator('#mfa-confirm').click();
          const consoleError = page.locator('#form-errors[role=alert]');
          await consoleError.waitFor();
          expect(await consoleError.count()).toBe(1);
          expect(await page.locator('#code').getAttribute('aria-invalid')).toBe('true');
          expect(await consoleError.locator('li').allInnerTexts()).toEqual([en('errors.MFA_CODE_WRONG')]);
          expect((await page.locator('#totp-secret').innerText()).replace(/\s+/g, '')).toBe(secret);

          await page.locator('#code').fill(enrollmentCode);
          await page.locator('#mfa-confirm').click();
          const codes = await readRecoveryCodes(b);
          expect(await page.locator('main p.notice[role=status]').innerText()).toBe(en('mfa.codes.saved'));
          await page.locator('#done').click();
          await page.waitForURL((url) => url.pathname === '/account/security');
          await expectMfaStatus(b, t.issuer, 'totp');
          expect(codes).toHaveLength(10);

          // 2. Log out; an RP login now asks for the code after the password.
          await logOutOfConsole(b, t, user);
          const pending = await rp.authorizationRequest({
            redirect_uri: RP_CALLBACK,
            scope: 'openid email profile',
            ui_locales: 'en',
          });
          await page.goto(pending.url.href);
          await enterPassword(b, user.email);
          await expectSecondStep(b, user.email, 'totp');
          expect(await page.locator('#use-recovery-code').innerText()).toBe(en('mfa.useRecoveryCode'));

          // The code the enrollment used is refused (each time step once), and nothing reaches the RP.
          await page.locator('#code').fill(enrollmentCode);
          await page.locator('#totp-form button[type=submit]').click();
          expect(await alertText(b)).toBe(en('errors.MFA_CODE_WRONG'));
          expect(b.rpVisits).toEqual([]);

          // The app's next code is accepted.
          await page.locator('#code').fill(totpCode(secret, 1));
          await page.locator('#totp-form button[type=submit]').click();
          const callback = await arriveAtRp(b);
          expect(callback.searchParams.get('state')).toBe(pending.state);
          await expectMfaLogin(rp, callback, pending, t.issuer, user, ['pwd', 'otp', 'mfa']);
          expect(b.rpVisits).toHaveLength(1);
          expect(b.pageErrors).toEqual([]);
        } finally {
          await b.close();
        }
      },
      JOURNEY_TIMEOUT_MS,
    );

    it(
      'accepts a recovery code instead of the app once, and refuses the same code the second time',
      async () => {
        const { user, recoveryCodes } = await userWithTotp();
        const used = recoveryCodes[3]!;
        const other = recoveryCodes[7]!;

        /** An RP login in a fresh browser up to the recovery code field. */
        async function toRecoveryCode(b: RpBrowser): Promise<PendingAuthorization> {
          const { page } = b;
          const pending = await rp.authorizationRequest({
            redirect_uri: RP_CALLBACK,
            scope: 'openid email',
            ui_locales: 'en',
          });
          await page.goto(pending.url.href);
          await enterPassword(b, user.email);
          await expectSecondStep(b, user.email, 'totp');
          expect(await page.locator('#recovery-form').count()).toBe(0);
          await page.locator('#use-recovery-code').click();
          await page.waitForURL((url) => /\/mfa$/.test(url.pathname) && url.searchParams.get('recovery') === '1');
          await page.locator('#recovery-form #recovery_code').waitFor();
          expect(await b.heading()).toBe(en('mfa.heading'));
          expect(await page.locator('label[for=recovery_code]').innerText()).toBe(en('mfa.recoveryCode'));
          expect(await page.locator('#use-recovery-code').count()).toBe(0);
          return pending;
        }

        const b1 = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: 'en-US' });
        try {
          const pending = await toRecoveryCode(b1);
          await b1.page.locator('#recovery_code').fill(used);
          await b1.page.locator('#recovery-form button[type=submit]').click();
          const callback = await arriveAtRp(b1);
          await expectMfaLogin(rp, callback, pending, t.issuer, user, ['pwd', 'otp', 'mfa']);
          expect(b1.pageErrors).toEqual([]);
        } finally {
          await b1.close();
        }

        const b2 = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: 'en-US' });
        try {
          const pending = await toRecoveryCode(b2);
          await b2.page.locator('#recovery_code').fill(used);
          await b2.page.locator('#recovery-form button[type=submit]').click();
          expect(await alertText(b2)).toBe(en('errors.RECOVERY_CODE_WRONG'));
          expect(await b2.page.locator('#recovery-form #recovery_code').isVisible()).toBe(true);
          expect(b2.rpVisits).toEqual([]);

          // Another unused code, typed the way people type it (lower case, a space for the dash), works.
          await b2.page.locator('#recovery_code').fill(other.toLowerCase().replace('-', ' '));
          await b2.page.locator('#recovery-form button[type=submit]').click();
          const callback = await arriveAtRp(b2);
          await expectMfaLogin(rp, callback, pending, t.issuer, user, ['pwd', 'otp', 'mfa']);
          expect(b2.rpVisits).toHaveLength(1);
          expect(b2.pageErrors).toEqual([]);
        } finally {
          await b2.close();
        }
        expect(await remainingRecoveryCodes(t.app.db, user.id)).toBe(8);
      },
      JOURNEY_TIMEOUT_MS,
    );

    it(
      'asks for the code in Japanese with ui_locales=ja',
      async () => {
        const { user, secret } = await userWithTotp();
        // The browser prefers English: only ui_locales can make the second step speak Japanese.
        const b = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: 'en-US' });
        const { page } = b;
        try {
          const pending = await rp.authorizationRequest({
            redirect_uri: RP_CALLBACK,
            scope: 'openid email',
            ui_locales: 'ja',
          });
          await page.goto(pending.url.href);
          await enterPassword(b, user.email);
          await page.locator('#totp-form #code').waitFor();
          expect(await b.htmlLang()).toBe('ja');
          expect(await page.title()).toBe('二段階認証 · Monban');
          expect(await b.heading()).toBe('二段階認証');
          expect(await page.locator('label[for=code]').innerText()).toBe('認証アプリのコード');
          expect(await page.locator('#totp-form button[type=submit]').innerText()).toBe('確認');
          expect(await page.locator('#use-recovery-code').innerText()).toBe('リカバリーコードを使用する');

          await page.locator('#code').fill(wrongTotpCode(secret));
          await page.locator('#totp-form button[type=submit]').click();
          expect(await alertText(b)).toBe(
            'コードが正しくありません。認証アプリに表示されている現在のコードを入力してください (各コードは 1 回のみ使用できます)。',
          );
          expect(await b.htmlLang()).toBe('ja');

          await page.locator('#code').fill(totpCode(secret, 1));
          await page.locator('#totp-form button[type=submit]').click();
          const callback = await arriveAtRp(b, 'ja');
          await expectMfaLogin(rp, callback, pending, t.issuer, user, ['pwd', 'otp', 'mfa']);
          expect(b.pageErrors).toEqual([]);
        } finally {
          await b.close();
        }
      },
      JOURNEY_TIMEOUT_MS,
    );

    it(
      'sets the authenticator app up during the login when the RP asks for MFA (acr_values)',
      async () => {
        const user = await registerUser(t.app, { locale: 'en' });
        const b = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: 'en-US' });
        const { page } = b;
        try {
          const pending = await rp.authorizationRequest({
            redirect_uri: RP_CALLBACK,
            scope: 'openid email',
            ui_locales: 'en',
            acr_values: ACR_MFA,
          });
          await page.goto(pending.url.href);
          await enterPassword(b, user.email);

          // The account has no second factor: it is set up before going on.
          await page.waitForURL((url) => /^\/interaction\/[^/]+\/mfa\/setup$/.test(url.pathname));
          expect(await b.heading()).toBe(en('mfa.setup.heading'));
          expect(await page.locator('main > p').first().innerText()).toBe(
            en('mfa.setup.requiredBy', { client: 'Test RP' }),
          );
          expect(await page.locator('#method-totp').isChecked()).toBe(true);
          expect(await page.locator('#method-duo').count()).toBe(0);
          await page.locator('form[action$="/mfa/setup"] button[type=submit]').click();

          await page.waitForURL((url) => /^\/interaction\/[^/]+\/mfa\/setup\/totp$/.test(url.pathname));
          expect(await b.heading()).toBe(en('mfa.setup.totpHeading'));
          expect(await page.locator('#totp-qr').isVisible()).toBe(true);
          expect(await page.locator('#totp-qr').getAttribute('src')).toMatch(/^data:image\/png;base64,/);
          const secret = (await page.locator('#totp-secret').innerText()).replace(/\s+/g, '');
          expect(secret).toMatch(/^[A-Z2-7]{32}$/);
          await page.locator('#code').fill(totpCode(secret));
          await page.locator('form[action$="/mfa/setup/totp"] button[type=submit]').click();

          // The codes are shown once; then on to the RP, which gets an MFA login.
          await readRecoveryCodes(b);
          expect(await page.locator('main p.notice[role=status]').innerText()).toBe(en('mfa.codes.on'));
          const next = page.locator('#continue');
          expect(await next.innerText()).toBe(en('mfa.codes.continue'));
          expect(b.rpVisits).toEqual([]);
          await next.click();
          const callback = await arriveAtRp(b);
          await expectMfaLogin(rp, callback, pending, t.issuer, user, ['pwd', 'otp', 'mfa']);
          expect((await activeFactor(t.app.db, user.id))?.kind).toBe('totp');
          expect(b.pageErrors).toEqual([]);
        } finally {
          await b.close();
        }
      },
      JOURNEY_TIMEOUT_MS,
    );
  });

  describe('Duo', () => {
    let duo: FakeDuo;
    let t: TestApp;
    let rp: RelyingParty;

    beforeAll(async () => {
      duo = await new FakeDuo().start();
      t = await startTestApp({ duo });
      const registered = await registerClient(t.app);
      rp = await RelyingParty.discover(t.issuer, registered.client_id, registered.client_secret!);
    }, SETUP_TIMEOUT_MS);

    afterAll(async () => {
      await t?.close();
      await duo?.stop();
    }, SETUP_TIMEOUT_MS);

    it(
      'turns Duo on in the console with Approve, logs in at the RP with Approve, and not with Deny',
      async () => {
        const user = await registerUser(t.app, { locale: 'en' });
        // The fake Duo serves a self-signed certificate for 127.0.0.1.
        const b = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: 'en-US', ignoreHTTPSErrors: true });
        const { page } = b;
        try {
          // 1. The console: method Duo, the password, Duo's prompt, Approve, the recovery codes.
          await signInToConsole(b, t.issuer, user.email);
          await expectMfaStatus(b, t.issuer, '');
          await chooseMethod(b, 'duo', true);
          await expectDuoPrompt(b, duo, user.email);
          await page.locator('#duo-approve').click();
          // Back from Duo: the callback shows the recovery codes on a page of their own.
          await page.waitForURL((url) => url.origin === t.issuer && url.pathname === '/account/security/mfa/codes');
          await readRecoveryCodes(b);
          expect(await page.locator('main p.notice[role=status]').innerText()).toBe(en('mfa.codes.saved'));
          await page.locator('#done').click();
          await page.waitForURL((url) => url.pathname === '/account/security');
          await expectMfaStatus(b, t.issuer, 'duo');
          expect((await activeFactor(t.app.db, user.id))?.kind).toBe('duo');
          await logOutOfConsole(b, t, user);

          // 2. An RP login: password, "Continue with Duo", Approve, back at the RP.
          const pending = await rp.authorizationRequest({
            redirect_uri: RP_CALLBACK,
            scope: 'openid email profile',
            ui_locales: 'en',
          });
          await page.goto(pending.url.href);
          await enterPassword(b, user.email);
          await expectSecondStep(b, user.email, 'duo');
          expect(await page.locator('#duo-form p').first().innerText()).toBe(en('mfa.duoIntro'));
          const seen = duo.requests.length;
          await page.locator('#duo-start').click();
          await expectDuoPrompt(b, duo, user.email);
          await page.locator('#duo-approve').click();
          const callback = await arriveAtRp(b);
          expect(callback.searchParams.get('state')).toBe(pending.state);
          await expectMfaLogin(rp, callback, pending, t.issuer, user, ['pwd', 'mfa']);
          expect(duo.requests.slice(seen)).toEqual([
            '/oauth/v1/health_check',
            '/oauth/v1/authorize',
            '/oauth/v1/decide',
            '/oauth/v1/token',
          ]);
          expect(b.rpVisits).toHaveLength(1);
          expect(b.pageErrors).toEqual([]);
        } finally {
          await b.close();
        }

        // 3. Another login, in a fresh browser, where Duo's Deny is pressed: refused, and no code for the RP.
        const b2 = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: 'en-US', ignoreHTTPSErrors: true });
        try {
          const pending = await rp.authorizationRequest({
            redirect_uri: RP_CALLBACK,
            scope: 'openid email',
            ui_locales: 'en',
          });
          await b2.page.goto(pending.url.href);
          await enterPassword(b2, user.email);
          await expectSecondStep(b2, user.email, 'duo');
          await b2.page.locator('#duo-start').click();
          await expectDuoPrompt(b2, duo, user.email);
          await b2.page.locator('#duo-deny').click();
          await b2.page.waitForURL(
            (url) => url.origin === t.issuer && /^\/interaction\/[^/]+\/mfa\/duo\/callback$/.test(url.pathname),
          );
          expect(await alertText(b2)).toBe(en('errors.DUO_DENIED'));
          expect(await b2.htmlLang()).toBe('en');
          expect(await b2.heading()).toBe(en('mfa.heading'));
          expect(await b2.page.locator('#duo-start').isVisible()).toBe(true); // may try again
          expect(b2.rpVisits).toEqual([]);

          // Giving up sends the browser back to the RP with an error, never a code.
          await b2.page.getByRole('button', { name: en('login.cancel'), exact: true }).click();
          const back = await b2.waitForRp(RP_CALLBACK);
          expect(back.searchParams.get('error')).toBe('access_denied');
          expect(back.searchParams.get('code')).toBeNull();
          expect(back.searchParams.get('state')).toBe(pending.state);
          expect(b2.rpVisits).toHaveLength(1);
          expect(b2.pageErrors).toEqual([]);
        } finally {
          await b2.close();
        }
      },
      JOURNEY_TIMEOUT_MS,
    );
  });
});
