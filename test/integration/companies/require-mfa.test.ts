/**
 * The company policy "require two-step verification" (issue 15) is enforced at login, as an RP's
 * acr_values asking for MFA is: a member without a factor sets one up before the login finishes,
 * a member with one must use it (a remembered browser does not skip it), and nobody else changes.
 */
import { randomBytes } from 'node:crypto';
import { ACR } from '../../../src/oidc/acr.js';
import { createCompany, setMembership } from '../../../src/identity/companies/service.js';
import { ENGLISH, open, signedInUser, startAccountHarness, type AccountHarness } from '../../helpers/account.js';
import { en, registerClient, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, submitForm, type PageResponse } from '../../helpers/http-client.js';
import {
  followToRp,
  givesRpACode,
  isSecondStep,
  passSecondStep,
  redeemAtRp,
  rpLogin,
  secretOnPage,
  totpCode,
  userWithTotp,
} from '../../helpers/mfa.js';

type Client = Awaited<ReturnType<typeof registerClient>>;

const isSetupPage = (page: PageResponse) => /\/interaction\/[^/]+\/mfa\/setup$/.test(page.url);

describe('company policy: require two-step verification for members', () => {
  let h: AccountHarness;
  let client: Client;
  let companyId: string;
  let admin: Awaited<ReturnType<typeof signedInUser>>;
  const tag = randomBytes(3).toString('hex');

  beforeAll(async () => {
    h = await startAccountHarness({ mfa: { rememberBrowserDays: 30 } });
    client = await registerClient(h.app);
    admin = await signedInUser(h, { email: `mfa-admin-${tag}@a.example.com` });
    companyId = (
      await createCompany(
        h.app.db,
        { name_ja: '丙株式会社', name_latin: 'Hei K.K.', admins: [admin.user.id] },
        { actor: 'cli' },
      )
    ).id;
  });
  afterAll(async () => {
    await h?.close();
  });

  async function setPolicy(on: boolean): Promise<void> {
    const page = await open(admin.browser, h.issuer, `/company/${companyId}`);
    expect(page.status).toBe(200);
    const res = await submitForm(admin.browser, page, `/company/${companyId}/require-mfa`, {
      current_password: TEST_PASSWORD,
      ...(on ? { require_mfa: 'on' } : {}),
    });
    expect(res.status).toBe(303);
  }

  async function member() {
    const user = await registerUser(h.app, { locale: 'en' });
    await setMembership(h.app.db, companyId, user.id, 'member', { actor: 'cli' });
    return user;
  }

  it('makes a member without a factor set one up inside the login; off again, the password alone works', async () => {
    const withoutFactor = await member();
    const later = await member();
    const stranger = await registerUser(h.app, { locale: 'en' });
    // Before the policy: the password is enough.
    expect(givesRpACode((await rpLogin(h, client, withoutFactor.email)).page)).toBe(true);

    await setPolicy(true);
    const { browser, auth, page } = await rpLogin(h, client, withoutFactor.email);
    expect(givesRpACode(page)).toBe(false);
    expect(isSetupPage(page)).toBe(true);
    expect(page.body).toContain(en('mfa.setup.requiredByCompany'));

    const chosen = await submitForm(browser, page, '/mfa/setup', { method: 'totp' });
    const setup = await browser.follow(chosen.location!);
    const secret = secretOnPage(setup);
    const done = await browser.follow(
      (await submitForm(browser, setup, '/mfa/setup/totp', { code: totpCode(secret) })).location!,
    );
    const continueUrl = done.body.match(/<a href="([^"]+)"[^>]*id="continue"/)?.[1];
    expect(continueUrl).toBeDefined();
    const toRp = await followToRp(browser, {
      ...done,
      location: new URL(continueUrl!.replace(/&amp;/g, '&'), done.url).toString(),
    });
    const claims = await redeemAtRp(h.issuer, client, toRp, auth.verifier);
    expect(claims.acr).toBe(ACR.mfa);

    // Someone outside the company is not asked.
    expect(givesRpACode((await rpLogin(h, client, stranger.email)).page)).toBe(true);

    // Turned off: a member without a factor logs in with the password alone again.
    expect(isSetupPage((await rpLogin(h, client, later.email)).page)).toBe(true);
    await setPolicy(false);
    const after = await rpLogin(h, client, later.email);
    expect(givesRpACode(after.page)).toBe(true);
    expect((await redeemAtRp(h.issuer, client, after.page, after.auth.verifier)).acr).toBe(ACR.password);
  });

  it('makes a member with a factor use it, even in a remembered browser', async () => {
    const totp = await userWithTotp(h);
    await setMembership(h.app.db, companyId, totp.user.id, 'member', { actor: 'cli' });
    const browser = new HttpClient(ENGLISH);
    const first = await rpLogin(h, client, totp.user.email, { browser });
    expect(isSecondStep(first.page)).toBe(true);
    const passed = await passSecondStep(browser, first.page, { code: totpCode(totp.secret, 1), remember: true });
    await followToRp(browser, passed);
    // Remembered: the next login in this browser is the password only...
    const remembered = await rpLogin(h, client, totp.user.email, { browser, params: { prompt: 'login' } });
    expect(givesRpACode(remembered.page)).toBe(true);

    // ...until the company requires two-step verification.
    await setPolicy(true);
    const required = await rpLogin(h, client, totp.user.email, { browser, params: { prompt: 'login' } });
    expect(givesRpACode(required.page)).toBe(false);
    expect(isSecondStep(required.page)).toBe(true);
    await setPolicy(false);
  });
});
