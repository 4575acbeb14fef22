/**
 * Issue 17 in a real Chromium with its virtual authenticator (Chrome DevTools Protocol WebAuthn
 * domain), against the app on PostgreSQL and Redis, with openid-client as the relying party:
 * - the offer of a passkey right after a password login: the button makes it and the login goes
 *   on to the app; the next login at the app uses it with nothing typed;
 * - a passkey as the second step after the password, when the app asks for MFA.
 */
import type { Browser, CDPSession } from 'playwright-core';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { launchBrowser, RpBrowser } from '../helpers/browser.js';
import { messageText, registerClient, registerUser, RP_CALLBACK, TEST_PASSWORD } from '../helpers/fixtures.js';
import { RelyingParty } from '../helpers/rp.js';

const RP_ORIGIN = new URL(RP_CALLBACK).origin;
const SETUP_TIMEOUT_MS = 180_000;
const JOURNEY_TIMEOUT_MS = 150_000;
const ACR_MFA = 'urn:monban:acr:mfa';
const en = (key: string, params: Record<string, string | number> = {}) => messageText('en', key, params);

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

describe('passkeys offered after a password login, and as the second step, in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let rp: RelyingParty;

  beforeAll(async () => {
    [t, browser] = await Promise.all([
      startTestApp({ overrides: { passkeys: { upgradePrompt: true } } }),
      launchBrowser(),
    ]);
    const registered = await registerClient(t.app);
    rp = await RelyingParty.discover(t.issuer, registered.client_id, registered.client_secret!);
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  }, SETUP_TIMEOUT_MS);

  const passkeysOf = (accountId: string) =>
    t.app.db.selectFrom('webauthn_credentials').select('id').where('account_id', '=', accountId).execute();

  async function typeEmailAndPassword(page: RpBrowser['page'], email: string): Promise<void> {
    await page.locator('#email').fill(email);
    await page.locator('form[action$="/email"] button[type=submit]').click();
    await page.locator('#password').fill(TEST_PASSWORD);
    await page.locator('form[action$="/password"] button[type=submit]').click();
  }

  /** The consent page if the app asks for it, then the app's callback, redeemed: the ID token's claims. */
  async function finishAtRp(b: RpBrowser, pending: Awaited<ReturnType<RelyingParty['authorizationRequest']>>) {
    const allow = b.page.getByRole('button', { name: en('consent.allow'), exact: true });
    await allow.or(b.page.getByRole('heading', { name: 'Test RP', exact: true })).waitFor({ timeout: 30_000 });
    if (await allow.isVisible()) await allow.click();
    const callback = await b.waitForRp(RP_CALLBACK, 30_000);
    return (await rp.redeem(callback, pending)).claims()!;
  }

  it(
    'makes a passkey from the offer after the password and goes on; the next login uses it with nothing typed',
    async () => {
      const user = await registerUser(t.app, { locale: 'en' });
      const b = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: 'en-US' });
      const { page } = b;
      try {
        const { cdp, authenticatorId } = await virtualAuthenticator(b);
        const first = await rp.authorizationRequest({ redirect_uri: RP_CALLBACK, scope: 'openid', prompt: 'login' });
        await page.goto(first.url.toString());
        await typeEmailAndPassword(page, user.email);
        // The page also tries conditional create (no dialog). Chromium offers it, but makes a
        // passkey that way only for a password its own password manager just filled, which a
        // test browser has none of: the offer waits for the button, as it does for most users.
        await page.waitForURL(/\/passkey-offer$/);
        expect(await b.heading()).toBe(en('passkeyOffer.heading'));
        await page.locator('#passkey-offer-create').click();
        const claims = await finishAtRp(b, first);
        expect(claims.sub).toBe(user.id);
        expect(claims.amr).toEqual(['pwd']);
        expect(await passkeysOf(user.id)).toHaveLength(1);
        const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
        expect(credentials).toHaveLength(1);
        expect(credentials[0]!.isResidentCredential).toBe(true);

        // The next login: the email field's autofill offers the passkey, and the authenticator
        // answers as a user picking it would. Nothing is typed; no second offer.
        const next = await rp.authorizationRequest({ redirect_uri: RP_CALLBACK, scope: 'openid', prompt: 'login' });
        await page.goto(next.url.toString());
        const again = await finishAtRp(b, next);
        expect(again.sub).toBe(user.id);
        expect(again.amr).toEqual(['hwk', 'user', 'mfa']);
        expect(b.pageErrors).toEqual([]);
      } finally {
        await b.close();
      }
    },
    JOURNEY_TIMEOUT_MS,
  );

  it(
    'asks for the passkey after the password when the app asks for MFA; the ID token says pwd and mfa',
    async () => {
      const user = await registerUser(t.app, { locale: 'en' });
      const b = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: 'en-US' });
      const { page } = b;
      try {
        const { cdp, authenticatorId } = await virtualAuthenticator(b);
        // A passkey made at the offer of an earlier login.
        const first = await rp.authorizationRequest({ redirect_uri: RP_CALLBACK, scope: 'openid', prompt: 'login' });
        await page.goto(first.url.toString());
        await typeEmailAndPassword(page, user.email);
        await page.locator('#passkey-offer-create').click();
        await finishAtRp(b, first);
        expect(await passkeysOf(user.id)).toHaveLength(1);

        // The user does not pick it from the autofill this time (no touch), and types the password.
        await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: false });
        const pending = await rp.authorizationRequest({
          redirect_uri: RP_CALLBACK,
          scope: 'openid',
          prompt: 'login',
          acr_values: ACR_MFA,
        });
        await page.goto(pending.url.toString());
        await typeEmailAndPassword(page, user.email);
        const start = page.locator('#passkey-step-start');
        await start.waitFor({ timeout: 30_000 });
        expect(await b.heading()).toBe(en('mfa.heading'));
        expect(await start.innerText()).toBe(en('mfa.passkeyStart'));
        await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: true });
        await start.click();
        const claims = await finishAtRp(b, pending);
        expect(claims.sub).toBe(user.id);
        expect(claims.amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
        expect(claims.acr).toBe(ACR_MFA);
        expect(b.pageErrors).toEqual([]);
      } finally {
        await b.close();
      }
    },
    JOURNEY_TIMEOUT_MS,
  );
});
