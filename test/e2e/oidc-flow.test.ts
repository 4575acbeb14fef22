/**
 * End to end (OP1, OP2, L1, L2, E4): a real Chromium goes through our real pages while a real
 * relying party (openid-client) drives the protocol against the app on PostgreSQL and Redis.
 * One journey per language: discovery, code + PKCE through the login and consent pages, ID token
 * and userinfo claims, refresh token rotation and reuse detection, revocation, RP-initiated
 * logout through the confirmation page, and a login page again afterwards.
 */
import type { Browser } from 'playwright-core';
import * as client from 'openid-client';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { startWithBrowser, RpBrowser, waitForInteractionAddress } from '../helpers/browser.js';
import { registerClient, registerUser, RP_CALLBACK, TEST_PASSWORD } from '../helpers/fixtures.js';
import { jwtPayload, RelyingParty } from '../helpers/rp.js';

const RP_ORIGIN = new URL(RP_CALLBACK).origin;
const POST_LOGOUT = `${RP_ORIGIN}/`;
const ACR_PWD = 'urn:monban:acr:pwd';
const JOURNEY_TIMEOUT_MS = 120_000;

type Lang = 'ja' | 'en';

/** What the pages must say, written out here (not read from views/locales) so a broken translation fails. */
interface PageTexts {
  languageName: string;
  languageNav: string;
  loginHeading: string;
  loginTitle: string;
  emailLabel: string;
  next: string;
  passwordLabel: string;
  submit: string;
  consentHeading: string;
  scopeEmail: string;
  scopeProfile: string;
  scopeOffline: string;
  allow: string;
  logoutHeading: string;
  logoutQuestion: string;
  logoutYes: string;
}

const TEXTS: Record<Lang, PageTexts> = {
  ja: {
    languageName: '日本語',
    languageNav: '言語',
    loginHeading: 'ログイン',
    loginTitle: 'ログイン · Monban',
    emailLabel: 'E メールアドレス',
    next: '次へ',
    passwordLabel: 'パスワード',
    submit: 'ログイン',
    consentHeading: 'Test RP があなたのアカウントへのアクセスを求めています',
    scopeEmail: 'あなたの E メールアドレスを見る',
    scopeProfile: 'あなたの氏名、言語、タイムゾーンを見る',
    scopeOffline: 'あなたが操作していない間もアカウントへのアクセスを維持する',
    allow: '許可',
    logoutHeading: 'ログアウト',
    logoutQuestion: 'Test RP が Monban からのログアウトを求めています。ログアウトしますか?',
    logoutYes: 'はい、ログアウトします',
  },
  en: {
    languageName: 'English',
    languageNav: 'Language',
    loginHeading: 'Log in',
    loginTitle: 'Log in · Monban',
    emailLabel: 'Email address',
    next: 'Next',
    passwordLabel: 'Password',
    submit: 'Log in',
    consentHeading: 'Test RP would like to access your account',
    scopeEmail: 'See your email address',
    scopeProfile: 'See your name, language and time zone',
    scopeOffline: 'Stay logged in to your account while you are away',
    allow: 'Allow',
    logoutHeading: 'Log out',
    logoutQuestion: 'Test RP asks to log you out of Monban. Do you want to log out?',
    logoutYes: 'Yes, log me out',
  },
};

const OTHER: Record<Lang, Lang> = { ja: 'en', en: 'ja' };

/** The email step is showing, in the given language. */
async function expectEmailStep(b: RpBrowser, lang: Lang): Promise<void> {
  const t = TEXTS[lang];
  const { page } = b;
  await page.getByRole('button', { name: t.next, exact: true }).waitFor();
  await waitForInteractionAddress(page);
  expect(await b.htmlLang()).toBe(lang);
  expect(await page.title()).toBe(t.loginTitle);
  expect(await b.heading()).toBe(t.loginHeading);
  expect(await page.getByLabel(t.emailLabel, { exact: true }).getAttribute('name')).toBe('email');
  const nav = page.getByRole('navigation', { name: t.languageNav });
  expect(await nav.locator('strong').innerText()).toBe(t.languageName);
  expect(await nav.getByRole('link', { name: TEXTS[OTHER[lang]].languageName, exact: true }).count()).toBe(1);
}

/** Uses the globe menu on the email step: the page turns into the other language and back. */
async function switchLanguageAndBack(b: RpBrowser, lang: Lang): Promise<void> {
  const other = OTHER[lang];
  const { page } = b;
  await page
    .getByRole('navigation', { name: TEXTS[lang].languageNav })
    .getByRole('link', { name: TEXTS[other].languageName, exact: true })
    .click();
  await page.waitForURL((url) => url.searchParams.get('lang') === other);
  await expectEmailStep(b, other);

  await page
    .getByRole('navigation', { name: TEXTS[other].languageNav })
    .getByRole('link', { name: TEXTS[lang].languageName, exact: true })
    .click();
  await page.waitForURL((url) => url.searchParams.get('lang') === lang);
  await expectEmailStep(b, lang);
}

/** Email step, password step; stops on the page that follows the password. */
async function logIn(b: RpBrowser, lang: Lang, email: string, password: string): Promise<void> {
  const t = TEXTS[lang];
  const { page } = b;
  await page.getByLabel(t.emailLabel, { exact: true }).fill(email);
  await page.getByRole('button', { name: t.next, exact: true }).click();

  const passwordInput = page.getByLabel(t.passwordLabel, { exact: true });
  await passwordInput.waitFor();
  // The step answers the email form; its script puts the step's own address in the address bar,
  // so that a reload shows the step again instead of posting the address twice.
  await waitForInteractionAddress(page, '/password');
  await page.reload();
  await passwordInput.waitFor();
  expect(await b.htmlLang()).toBe(lang);
  expect(await b.heading()).toBe(t.loginHeading);
  expect(await page.locator('#login-email').innerText()).toBe(email);
  expect(await passwordInput.getAttribute('type')).toBe('password');
  await passwordInput.fill(password);
  await page.getByRole('button', { name: t.submit, exact: true }).click();
}

/** The consent page is showing and lists what was asked for; presses Allow and returns the callback URL. */
async function allowOnConsentPage(b: RpBrowser, lang: Lang, expectOffline: boolean): Promise<URL> {
  const t = TEXTS[lang];
  const { page } = b;
  const allow = page.getByRole('button', { name: t.allow, exact: true });
  await allow.waitFor();
  expect(await b.htmlLang()).toBe(lang);
  expect(await b.heading()).toBe(t.consentHeading);
  expect(await page.locator('input[name=email], input[name=password]').count()).toBe(0);
  const scopes = await page.locator('ul.scopes li').allInnerTexts();
  expect(scopes).toEqual(expect.arrayContaining([t.scopeEmail, t.scopeProfile]));
  if (expectOffline) expect(scopes).toContain(t.scopeOffline);
  await allow.click();
  return b.waitForRp(RP_CALLBACK);
}

function expectCallback(callback: URL, state: string, issuer: string): void {
  expect(`${callback.origin}${callback.pathname}`).toBe(RP_CALLBACK);
  expect(callback.searchParams.get('state')).toBe(state);
  expect(callback.searchParams.get('iss')).toBe(issuer); // RFC 9207
  expect(callback.searchParams.get('code')).toEqual(expect.any(String));
  expect(callback.searchParams.get('error')).toBeNull();
}

describe('OIDC end to end in a real browser (OP1, OP2, L1, L2, E4)', () => {
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    [t, browser] = await startWithBrowser(startTestApp());
  }, JOURNEY_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.allSettled([browser?.close(), t?.close()]);
  }, JOURNEY_TIMEOUT_MS);

  describe.each<Lang>(['ja', 'en'])('ui_locales=%s', (lang) => {
    const texts = TEXTS[lang];

    it(
      'logs in with code + PKCE, uses and rotates the tokens, revokes, and logs out',
      async () => {
        const registered = await registerClient(t.app);
        const user = await registerUser(t.app, { locale: lang });
        // The browser prefers the other language, so only ui_locales can make the pages speak `lang`.
        const b = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: lang === 'ja' ? 'en-US' : 'ja-JP' });
        try {
          // Discovery.
          const rp = await RelyingParty.discover(t.issuer, registered.client_id, registered.client_secret!);
          const meta = rp.metadata;
          expect(meta.issuer).toBe(t.issuer);
          expect(meta.authorization_endpoint).toBe(`${t.issuer}/auth`);
          expect(meta.code_challenge_methods_supported).toEqual(['S256']);
          expect(meta.response_types_supported).toEqual(['code']);
          expect(meta.scopes_supported).toEqual(
            expect.arrayContaining(['openid', 'email', 'profile', 'offline_access']),
          );
          expect(meta.acr_values_supported).toEqual(expect.arrayContaining([ACR_PWD]));
          expect(meta.authorization_response_iss_parameter_supported).toBe(true);
          for (const endpoint of [
            'token_endpoint',
            'userinfo_endpoint',
            'revocation_endpoint',
            'introspection_endpoint',
            'end_session_endpoint',
            'jwks_uri',
          ] as const) {
            expect(String(meta[endpoint])).toMatch(new RegExp(`^${t.issuer}/`));
          }
          expect(rp.config.clientMetadata().client_id).toBe(registered.client_id);

          // 1. Authorization code + PKCE through the real pages.
          const first = await rp.authorizationRequest({
            redirect_uri: RP_CALLBACK,
            scope: 'openid email profile offline_access',
            prompt: 'consent',
            ui_locales: lang,
          });
          expect(first.url.searchParams.get('code_challenge_method')).toBe('S256');
          await b.page.goto(first.url.href);
          await expectEmailStep(b, lang);
          if (lang === 'ja') await switchLanguageAndBack(b, lang);
          await logIn(b, lang, user.email, TEST_PASSWORD);
          const callback = await allowOnConsentPage(b, lang, true);
          expectCallback(callback, first.state, t.issuer);

          const tokens = await rp.redeem(callback, first);

          // 2. The ID token, validated by openid-client (signature, iss, aud, nonce, exp), and its claims.
          expect(tokens.token_type.toLowerCase()).toBe('bearer');
          expect(tokens.scope?.split(' ').sort()).toEqual(['email', 'offline_access', 'openid', 'profile']);
          const idToken = tokens.claims()!;
          expect(idToken).toBeDefined();
          expect(idToken.iss).toBe(t.issuer);
          expect(idToken.aud).toBe(registered.client_id);
          expect(idToken.nonce).toBe(first.nonce);
          expect(idToken.sub).toBe(user.id);
          expect(idToken.email).toBe(user.email);
          expect(idToken.email_verified).toBe(true);
          expect(idToken.amr).toEqual(expect.arrayContaining(['pwd']));
          expect(idToken.acr).toBe(ACR_PWD);
          expect(typeof idToken.auth_time).toBe('number');
          expect(jwtPayload(tokens.id_token!).sub).toBe(user.id);

          // 3. Userinfo.
          const info = await rp.userinfo(tokens.access_token, user.id);
          expect(info).toMatchObject({
            sub: user.id,
            email: user.email,
            email_verified: true,
            given_name: 'Hanako',
            family_name: 'Yamada',
            name: lang === 'ja' ? 'Yamada Hanako' : 'Hanako Yamada',
            locale: lang,
          });
          const activeAt = await rp.introspect(tokens.access_token);
          expect(activeAt).toMatchObject({ active: true, sub: user.id, client_id: registered.client_id });

          // 4. Refresh token rotation: a new refresh token each time; the old one is dead, and reusing
          //    it revokes the whole grant (RFC 9700 4.14.2).
          const rt1 = tokens.refresh_token!;
          expect(rt1).toEqual(expect.any(String));
          const refreshed = await rp.refresh(rt1);
          const rt2 = refreshed.refresh_token!;
          expect(rt2).toEqual(expect.any(String));
          expect(rt2).not.toBe(rt1);
          expect(refreshed.access_token).not.toBe(tokens.access_token);
          expect(refreshed.claims()?.sub).toBe(user.id);
          expect((await rp.userinfo(refreshed.access_token, user.id)).email).toBe(user.email);
          await expect(rp.refresh(rt1)).rejects.toMatchObject({ error: 'invalid_grant' });
          await expect(rp.refresh(rt2)).rejects.toMatchObject({ error: 'invalid_grant' });
          expect((await rp.introspect(refreshed.access_token)).active).toBe(false);
          // The authorization code was single use as well.
          await expect(rp.redeem(callback, first)).rejects.toMatchObject({ error: 'invalid_grant' });

          // 5. A second authorization in the same browser: single sign-on (no login page), consent again.
          const second = await rp.authorizationRequest({
            redirect_uri: RP_CALLBACK,
            scope: 'openid email profile',
            prompt: 'consent',
            ui_locales: lang,
          });
          await b.page.goto(second.url.href);
          const secondCallback = await allowOnConsentPage(b, lang, false);
          expectCallback(secondCallback, second.state, t.issuer);
          const tokens2 = await rp.redeem(secondCallback, second);
          const idToken2 = tokens2.claims()!;
          expect(idToken2.sub).toBe(user.id);
          expect(idToken2.nonce).toBe(second.nonce);
          expect(idToken2.auth_time).toBe(idToken.auth_time); // the same login, not a new one

          // 6. Revocation of the access token: introspection says inactive, userinfo refuses it.
          expect((await rp.introspect(tokens2.access_token)).active).toBe(true);
          await rp.revoke(tokens2.access_token, 'access_token');
          expect(await rp.introspect(tokens2.access_token)).toEqual({ active: false });
          const refused = await rp.userinfo(tokens2.access_token, user.id).then(
            () => undefined,
            (err: unknown) => err,
          );
          expect(refused).toBeInstanceOf(client.WWWAuthenticateChallengeError);
          expect((refused as client.WWWAuthenticateChallengeError).status).toBe(401);
          expect((refused as client.WWWAuthenticateChallengeError).cause[0]?.parameters.error).toBe('invalid_token');

          // 7. RP-initiated logout through the confirmation page.
          const logoutState = client.randomState();
          const endSession = rp.endSessionUrl({
            id_token_hint: tokens2.id_token!,
            post_logout_redirect_uri: POST_LOGOUT,
            state: logoutState,
            ui_locales: lang,
          });
          expect(endSession.href.startsWith(`${meta.end_session_endpoint}?`)).toBe(true);
          await b.page.goto(endSession.href);
          const yes = b.page.getByRole('button', { name: texts.logoutYes, exact: true });
          await yes.waitFor();
          expect(await b.htmlLang()).toBe(lang);
          expect(await b.heading()).toBe(texts.logoutHeading);
          expect(await b.page.locator('main p').first().innerText()).toBe(texts.logoutQuestion);
          await yes.click();
          const afterLogout = await b.waitForRp(POST_LOGOUT);
          expect(`${afterLogout.origin}${afterLogout.pathname}`).toBe(POST_LOGOUT);
          expect(afterLogout.searchParams.get('state')).toBe(logoutState);
          const sessionCookies = (await b.context.cookies(t.issuer)).filter((c) => c.name.startsWith('monban_session'));
          expect(sessionCookies).toEqual([]);

          // 8. The session is over: a new authorization request shows the login page again.
          const third = await rp.authorizationRequest({
            redirect_uri: RP_CALLBACK,
            scope: 'openid email',
            ui_locales: lang,
          });
          await b.page.goto(third.url.href);
          await expectEmailStep(b, lang);
          expect(await b.page.getByLabel(texts.emailLabel, { exact: true }).inputValue()).toBe('');

          // Every visit to the RP was one we expected, and no page threw.
          expect(b.rpVisits.map((u) => `${new URL(u).origin}${new URL(u).pathname}`)).toEqual([
            RP_CALLBACK,
            RP_CALLBACK,
            POST_LOGOUT,
          ]);
          expect(b.pageErrors).toEqual([]);
        } finally {
          await b.close();
        }
      },
      JOURNEY_TIMEOUT_MS,
    );
  });
});
