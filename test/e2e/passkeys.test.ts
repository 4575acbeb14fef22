/**
 * Passkeys end to end in a real Chromium with its virtual authenticator (Chrome DevTools
 * Protocol WebAuthn domain: CTAP2, internal transport, resident keys, user verification), against
 * the app on PostgreSQL and Redis, with openid-client as the relying party: a passkey enrolled on
 * the console's Security page, a log out, a login at the RP with the passkey only (no password
 * typed) whose ID token says amr hwk, user, mfa and acr mfa, then the passkey removed in the
 * console and the same authenticator refused. Once per language.
 */
import type { Browser, CDPSession } from 'playwright-core';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { launchBrowser, RpBrowser } from '../helpers/browser.js';
import { messageText, registerClient, registerUser, RP_CALLBACK, TEST_PASSWORD } from '../helpers/fixtures.js';
import { RelyingParty } from '../helpers/rp.js';

const RP_ORIGIN = new URL(RP_CALLBACK).origin;
const SETUP_TIMEOUT_MS = 180_000;
const JOURNEY_TIMEOUT_MS = 150_000;

/** A platform authenticator that holds discoverable credentials and verifies its user. */
async function virtualAuthenticator(b: RpBrowser): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await b.context.newCDPSession(b.page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

/** The security page's password, asked once at its top (it then counts for five minutes in this session). */
async function confirmPassword(page: RpBrowser['page']): Promise<void> {
  await page.locator('#current_password').fill(TEST_PASSWORD);
  await page.locator('#reauth').click();
  await page.locator('#reauth-fresh').waitFor();
}

describe.each(['en', 'ja'] as const)('passkeys end to end in Chromium (%s)', (lang) => {
  const tx = (key: string, params: Record<string, string | number> = {}) => messageText(lang, key, params);
  let t: TestApp;
  let browser: Browser;
  let rp: RelyingParty;

  beforeAll(async () => {
    [t, browser] = await Promise.all([startTestApp(), launchBrowser()]);
    const registered = await registerClient(t.app);
    rp = await RelyingParty.discover(t.issuer, registered.client_id, registered.client_secret!);
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  }, SETUP_TIMEOUT_MS);

  it(
    'enrols a passkey in the console, signs in at an RP with it alone, and is refused once it is removed',
    async () => {
      const user = await registerUser(t.app, { locale: lang });
      const b = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: lang === 'ja' ? 'ja-JP' : 'en-US' });
      const { page } = b;
      try {
        const { cdp, authenticatorId } = await virtualAuthenticator(b);

        // Console: log in with the password, then add a passkey (the password again first).
        await page.goto(`${t.issuer}/account`);
        await page.locator('#email').fill(user.email);
        await page.locator('form[action$="/email"] button[type=submit]').click();
        await page.locator('#password').fill(TEST_PASSWORD);
        await page.locator('form[action$="/password"] button[type=submit]').click();
        await page.waitForURL(`${t.issuer}/account`);
        await page.goto(`${t.issuer}/account/security`);
        expect(await page.locator('#passkeys-section h2').innerText()).toBe(tx('account.security.passkeys'));
        expect(await page.locator('#passkeys-none').innerText()).toBe(tx('account.security.passkeysNone'));
        await confirmPassword(page);
        await page.locator('#passkey-add').click();
        await page.waitForURL(`${t.issuer}/account/security/passkeys/new`);
        expect(await b.heading()).toBe(tx('account.passkeyAdd.title'));
        await page.locator('#passkey-name').fill('Laptop');
        await page.locator('#passkey-create').click();
        await page.waitForURL(`${t.issuer}/account/security?done=passkey-added`);
        expect(await page.locator('#done').innerText()).toBe(tx('account.done.passkey-added'));
        expect(await page.locator('#passkey-list .passkey-name').allInnerTexts()).toEqual(['Laptop']);
        const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
        expect(credentials).toHaveLength(1);
        expect(credentials[0]!.isResidentCredential).toBe(true);

        // Log out everywhere.
        await page.goto(`${t.issuer}/account`);
        await page.locator('#logout').click();
        await page.waitForURL(`${t.issuer}/account/logged-out`);

        // The RP: the email field offers the passkey (conditional UI; the virtual authenticator
        // picks it at once, as a user choosing it in the autofill would). Nothing is typed.
        const pending = await rp.authorizationRequest({ redirect_uri: RP_CALLBACK, scope: 'openid email' });
        await page.goto(pending.url.toString());
        const allow = page.getByRole('button', { name: tx('consent.allow'), exact: true });
        const atRp = page.getByRole('heading', { name: 'Test RP', exact: true });
        await allow.or(atRp).waitFor({ timeout: 30_000 });
        if (await allow.isVisible()) await allow.click();
        const callback = await b.waitForRp(RP_CALLBACK, 30_000);
        const tokens = await rp.redeem(callback, pending);
        const claims = tokens.claims()!;
        expect(claims.sub).toBe(user.id);
        expect(claims.amr).toEqual(['hwk', 'user', 'mfa']);
        expect(claims.acr).toBe('urn:monban:acr:mfa');

        // Remove it in the console (the session from the passkey login serves the console too).
        await page.goto(`${t.issuer}/account/security`);
        const item = page.locator('#passkey-list li').first();
        await confirmPassword(page);
        await item.locator('form.passkey-remove button').click();
        await page.waitForURL(`${t.issuer}/account/security?done=passkey-removed`);
        expect(await page.locator('#passkey-list').count()).toBe(0);

        // The authenticator still holds the credential; Monban no longer knows it.
        const again = await rp.authorizationRequest({ redirect_uri: RP_CALLBACK, scope: 'openid', prompt: 'login' });
        const refused = page.waitForResponse(
          (r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith('/passkey'),
          { timeout: 30_000 },
        );
        await page.goto(again.url.toString());
        // The page that says so serves its passkey button disabled (a click before the page's
        // script attached to it did nothing); the script enables it.
        expect(await (await refused).text()).toMatch(/<button [^>]*id="passkey-signin"[^>]* disabled>/);
        const alert = page.locator('#form-error[role=alert]');
        await alert.waitFor({ timeout: 30_000 });
        expect((await alert.innerText()).trim()).toBe(tx('errors.PASSKEY_UNKNOWN'));
        // The button asks again (this time with the browser's dialog): the same answer.
        expect(await page.locator('#email').getAttribute('autocomplete')).toBe('username webauthn');
        const button = page.locator('#passkey-signin');
        expect(await button.innerText()).toBe(tx('login.passkey'));
        await page.waitForLoadState('load');
        expect(await button.isEnabled()).toBe(true);
        const posted = page.waitForResponse(
          (r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith('/passkey'),
          { timeout: 30_000 },
        );
        await button.click();
        expect((await posted).status()).toBe(401);
        await alert.waitFor({ timeout: 30_000 });
        expect((await alert.innerText()).trim()).toBe(tx('errors.PASSKEY_UNKNOWN'));
        expect(b.rpVisits.filter((v) => v.startsWith(RP_CALLBACK))).toHaveLength(1);
        expect(b.pageErrors).toEqual([]);
      } finally {
        await b.close();
      }
    },
    JOURNEY_TIMEOUT_MS,
  );
});
