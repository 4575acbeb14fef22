/**
 * Passkeys at the login pages over HTTP, with real WebAuthn answers from a software
 * authenticator: a passkey or security key as the second step after the password (beside the
 * authenticator app; the RP gets pwd, hwk, user, mfa), an account whose only second factor is a
 * passkey, the account states a passkey login must respect like a password login, the admin's
 * "reset MFA" taking passkeys too, and 50 parallel answers with broken signatures counted before
 * any signature is checked.
 */
import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import type { AccountRow } from '../../../src/db/schema.js';
import { resetUserMfa } from '../../../src/admin/users.js';
import { updateAccount } from '../../../src/identity/accounts/repository.js';
import { listPasskeys } from '../../../src/identity/passkeys/repository.js';
import { registerPasskey, registrationOptions } from '../../../src/identity/passkeys/webauthn.js';
import { ACR } from '../../../src/oidc/acr.js';
import { accountRow, auditTypes, ENGLISH, startAccountHarness, type AccountHarness } from '../../helpers/account.js';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import {
  authorizationUrl,
  en,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import {
  alertText,
  formAction,
  hiddenInputs,
  HttpClient,
  loginThroughPages,
  submitForm,
  unescapeHtml,
  type PageResponse,
  interactionUid,
} from '../../helpers/http-client.js';
import { followToRp, isSecondStep, redeemAtRp, rpLogin, totpCode, userWithTotp } from '../../helpers/mfa.js';
import { SoftwareAuthenticator } from '../../helpers/software-authenticator.js';
import { codeIn } from '../../helpers/smtp.js';
import { emailChangeOf } from '../../../src/app.js';
import { addressChanger } from '../../../src/identity/companies/email-change.js';

type Client = Awaited<ReturnType<typeof registerClient>>;

/** The options the page's script asks for (POST to the form's data-options-url with its CSRF token). */
async function optionsFor(
  browser: HttpClient,
  page: PageResponse,
  action: string,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const form = page.body.match(new RegExp(`<form[^>]*action="[^"]*${action}"[^>]*data-options-url="([^"]+)"`));
  if (!form) throw new Error(`no passkey form for ${action} on ${page.url}`);
  const res = await browser.request(new URL(unescapeHtml(form[1]!), page.url).toString(), {
    form: { _csrf: hiddenInputs(page.body, action)._csrf ?? '' },
  });
  if (res.status !== 200) throw new Error(`options answered ${res.status}`);
  return JSON.parse(res.body) as PublicKeyCredentialRequestOptionsJSON;
}

describe('passkeys at the login', () => {
  let h: AccountHarness;
  let client: Client;
  beforeAll(async () => {
    h = await startAccountHarness();
    client = await registerClient(h.app);
  }, 180_000);
  afterAll(async () => {
    await h?.close();
  });

  /** A passkey for the account, registered as the console does (the authenticator keeps it). */
  async function enrol(account: AccountRow, authenticator = new SoftwareAuthenticator(h.issuer)) {
    const binding = `console:${account.id}.test`;
    const options = await registrationOptions(h.app.passkeys, account, binding);
    const meta = { ip: '192.0.2.1', userAgent: 'jest', locale: 'en' as const, device: undefined };
    await registerPasskey(h.app.passkeys, account, binding, JSON.stringify(authenticator.create(options)), '', meta);
    return authenticator;
  }

  /** The email step of a new login at the RP. */
  async function emailStep(browser = new HttpClient(ENGLISH)) {
    const auth = authorizationUrl(h.issuer, client.client_id, { prompt: 'login' });
    return { browser, auth, page: await browser.follow(auth.url) };
  }

  it('passes the second step with a passkey instead of the app’s code; the RP sees pwd, hwk, user, mfa', async () => {
    const { user } = await userWithTotp(h);
    const account = (await h.app.db.selectFrom('accounts').selectAll().where('id', '=', user.id).executeTakeFirst())!;
    const authenticator = await enrol(account);
    const stranger = await enrol(await registerUser(h.app));

    const { browser, auth, page } = await rpLogin(h, client, user.email);
    expect(isSecondStep(page)).toBe(true);
    // Both ways are offered; the user picks.
    expect(formAction(page.body, '/mfa/totp')).toBeDefined();
    expect(formAction(page.body, '/mfa/passkey')).toBeDefined();
    expect(page.body).toContain(en('mfa.passkeyStart'));

    // The options name the account's own credentials, so a security key without a stored
    // passkey (non-discoverable) works too.
    let options = await optionsFor(browser, page, '/mfa/passkey');
    expect(options.allowCredentials?.map((c) => c.id)).toEqual([authenticator.credentials[0]!.id]);
    expect(options.userVerification).toBe('required');

    // Another account's passkey does not pass this account's step.
    const foreign = await submitForm(browser, page, '/mfa/passkey', {
      response: JSON.stringify(stranger.get(options, { credentialId: stranger.credentials[0]!.id })),
    });
    expect(foreign.status).toBe(401);
    expect(alertText(foreign.body)).toBe(en('errors.PASSKEY_UNKNOWN', { product: 'Monban' }));

    options = await optionsFor(browser, foreign, '/mfa/passkey');
    const passed = await submitForm(browser, foreign, '/mfa/passkey', {
      response: JSON.stringify(authenticator.get(options)),
    });
    expect(passed.status).toBe(303);
    const claims = await redeemAtRp(h.issuer, client, await followToRp(browser, passed), auth.verifier);
    expect(claims.sub).toBe(user.id);
    expect(claims.amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
    expect(claims.acr).toBe(ACR.mfa);
  });

  it('an account whose only second factor is a passkey uses it when the RP asks for MFA', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const authenticator = await enrol(user, new SoftwareAuthenticator(h.issuer, undefined, true));
    const { browser, auth, page } = await rpLogin(h, client, user.email, { params: { acr_values: ACR.mfa } });
    // The second step with the passkey, not the setup of an authenticator app; no recovery codes.
    expect(isSecondStep(page)).toBe(true);
    expect(formAction(page.body, '/mfa/totp')).toBeUndefined();
    expect(page.body).not.toContain('id="use-recovery-code"');
    const options = await optionsFor(browser, page, '/mfa/passkey');
    const passed = await submitForm(browser, page, '/mfa/passkey', {
      response: JSON.stringify(authenticator.get(options)),
    });
    const claims = await redeemAtRp(h.issuer, client, await followToRp(browser, passed), auth.verifier);
    expect(claims.amr).toEqual(['pwd', 'swk', 'user', 'mfa']);
    expect(claims.acr).toBe(ACR.mfa);
  });

  it('refuses a passkey login to a locked, held or disabled account with the password login’s message', async () => {
    const cases: [Partial<AccountRow>, string][] = [
      [{ locked_at: new Date() }, 'errors.ACCOUNT_LOCKED'],
      [{ status: 'on_hold' }, 'errors.ACCOUNT_ON_HOLD'],
      [{ status: 'disabled' }, 'errors.ACCOUNT_DISABLED'],
    ];
    for (const [state, message] of cases) {
      const user = await registerUser(h.app, { locale: 'en' });
      const authenticator = await enrol(user);
      await updateAccount(h.app.db, user.id, state);
      const { browser, page } = await emailStep();
      const options = await optionsFor(browser, page, '/passkey');
      const refused = await submitForm(browser, page, '/passkey', {
        response: JSON.stringify(authenticator.get(options)),
      });
      expect(alertText(refused.body)).toBe(en(message, { product: 'Monban' }));
      expect(refused.location).toBeUndefined();
      expect(await auditTypes(h.app, user.id)).toContain('login.refused');
    }
  });

  it('a passkey of an account held for an address change leads to the code step, and the code finishes the login', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const authenticator = await enrol(user);
    const newEmail = `moved-${user.id.slice(0, 8)}@new.example.com`;
    // An operator's approved change (no company): held until the code from the new address.
    const changer = addressChanger(emailChangeOf(h.app, h.app.revoker));
    await h.app.db.transaction().execute((trx) => changer.start(trx, { accountId: user.id, newEmail, actor: 'cli' }));
    await changer.settle(user.id);
    const codeMail = await h.mail.waitFor(newEmail);

    const { browser, auth, page } = await emailStep();
    const options = await optionsFor(browser, page, '/passkey');
    const answer = await submitForm(browser, page, '/passkey', {
      response: JSON.stringify(authenticator.get(options)),
    });
    expect(answer.location).toMatch(/\/interaction\/[^/]+\/email-change$/);
    const step = await browser.follow(answer.location!);
    expect(step.body).toContain('name="code"');
    expect(step.body).not.toContain(newEmail);

    const done = await submitForm(browser, step, '/email-change', { code: codeIn(codeMail) });
    expect(done.status).toBe(303);
    const claims = await redeemAtRp(h.issuer, client, await followToRp(browser, done), auth.verifier);
    expect(claims).toMatchObject({ sub: user.id, email: newEmail, acr: ACR.mfa });
    expect(claims.amr).toEqual(expect.arrayContaining(['hwk', 'user', 'mfa']));
    expect(claims.amr).not.toContain('pwd');
    expect(await accountRow(h.app, user.id)).toMatchObject({ email: newEmail, status: 'active' });
  });

  it('the admin’s "reset MFA" removes the passkeys too, each audited', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const authenticator = await enrol(user);
    await enrol(user, new SoftwareAuthenticator(h.issuer, undefined, true));
    await resetUserMfa(h.app, user.id, {
      actor: 'admin-client',
      meta: { ip: '192.0.2.2', userAgent: 'jest', locale: 'en', device: undefined },
    });
    expect(await listPasskeys(h.app.db, user.id)).toEqual([]);
    const removed = await h.app.db
      .selectFrom('audit_events')
      .select(['type', 'actor'])
      .where('account_id', '=', user.id)
      .where('type', 'in', ['passkey.removed', 'admin.user.mfa_removed'])
      .execute();
    expect(removed.filter((r) => r.type === 'passkey.removed')).toHaveLength(2);
    expect(removed.every((r) => r.actor === 'admin-client')).toBe(true);
    // The authenticator still holds its passkey; Monban no longer knows it.
    const { browser, page } = await emailStep();
    const options = await optionsFor(browser, page, '/passkey');
    const refused = await submitForm(browser, page, '/passkey', {
      response: JSON.stringify(authenticator.get(options)),
    });
    expect(alertText(refused.body)).toBe(en('errors.PASSKEY_UNKNOWN', { product: 'Monban' }));
  });

  it('counts 50 parallel answers with broken signatures before checking any: the limit’s worth are checked', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const authenticator = await enrol(user);
    const limit = h.app.config.passkeys.attemptsPerAccount.points;
    const { browser, page } = await emailStep();
    // Fifty challenges of this login (the autofill and the button may each ask for one).
    const answers: string[] = [];
    for (let i = 0; i < 50; i += 1) {
      const answer = authenticator.get(await optionsFor(browser, page, '/passkey'));
      answer.response.signature = Buffer.from('not a signature').toString('base64url');
      answers.push(JSON.stringify(answer));
    }
    const outcomes = await Promise.all(answers.map((response) => submitForm(browser, page, '/passkey', { response })));
    const statuses = outcomes.map((o) => o.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(limit);
    expect(statuses.filter((s) => s === 429)).toHaveLength(50 - limit);
    expect(outcomes.every((o) => o.location === undefined)).toBe(true);
    // Only the counted answers reached the signature check.
    const events = await h.app.db
      .selectFrom('audit_events')
      .select('type')
      .where('account_id', '=', user.id)
      .where('type', 'in', ['passkey.failed', 'passkey.throttled'])
      .execute();
    expect(events.filter((e) => e.type === 'passkey.failed')).toHaveLength(limit);
    expect(events.filter((e) => e.type === 'passkey.throttled')).toHaveLength(50 - limit);
    // Even the right passkey waits now.
    const options = await optionsFor(browser, page, '/passkey');
    const late = await submitForm(browser, page, '/passkey', { response: JSON.stringify(authenticator.get(options)) });
    expect(late.status).toBe(429);
    expect(late.location).toBeUndefined();
  });

  it('under the company policy only a passkey passes: no code, no remembered browser, and without one the page says why', async () => {
    const { user, secret } = await userWithTotp(h);
    await updateAccount(h.app.db, user.id, { require_phishing_resistant: true });
    // Without a passkey: the login cannot be finished, and the page explains.
    let { page } = await rpLogin(h, client, user.email);
    expect(page.status).toBe(403);
    expect(alertText(page.body)).toBe(en('errors.PHISHING_RESISTANT_REQUIRED'));
    expect(formAction(page.body, '/mfa/totp')).toBeUndefined();
    expect(await auditTypes(h.app, user.id)).toContain('login.refused');

    const account = (await h.app.db.selectFrom('accounts').selectAll().where('id', '=', user.id).executeTakeFirst())!;
    const authenticator = await enrol(account);
    const login = await rpLogin(h, client, user.email);
    page = login.page;
    expect(isSecondStep(page)).toBe(true);
    expect(page.body).toContain(en('mfa.passkeyRequired'));
    expect(formAction(page.body, '/mfa/totp')).toBeUndefined();
    expect(page.body).not.toContain('id="use-recovery-code"');
    // The app's code, posted anyway, finishes nothing.
    const code = await submitForm(
      login.browser,
      { ...page, body: page.body.replace('/mfa/passkey"', '/mfa/totp"') },
      '/mfa/totp',
      {
        code: totpCode(secret),
      },
    );
    expect(code.location).toBeUndefined();
    const options = await optionsFor(login.browser, page, '/mfa/passkey');
    const passed = await submitForm(login.browser, page, '/mfa/passkey', {
      response: JSON.stringify(authenticator.get(options)),
    });
    const claims = await redeemAtRp(h.issuer, client, await followToRp(login.browser, passed), login.auth.verifier);
    expect(claims.amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
  });

  it('a session made with the password logs in again once the policy is set', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const authenticator = await enrol(user);
    const first = await rpLogin(h, client, user.email);
    expect(first.page.location?.startsWith(RP_CALLBACK)).toBe(true);
    await updateAccount(h.app.db, user.id, { require_phishing_resistant: true });
    // A process keeps the account a login just read for 10 s (RecentAccounts); then it reads the change.
    await new Promise((resolve) => setTimeout(resolve, 10_500));
    // The same browser, a new authorization: the session (pwd) no longer serves; the login pages show.
    const again = authorizationUrl(h.issuer, client.client_id);
    const page = await first.browser.follow(again.url, RP_CALLBACK);
    expect(page.location?.startsWith(RP_CALLBACK)).not.toBe(true);
    expect(formAction(page.body, '/email')).toBeDefined();
    // A passkey alone satisfies it.
    const options = await optionsFor(first.browser, page, '/passkey');
    const signedIn = await submitForm(first.browser, page, '/passkey', {
      response: JSON.stringify(authenticator.get(options)),
    });
    const claims = await redeemAtRp(h.issuer, client, await followToRp(first.browser, signedIn), again.verifier);
    expect(claims.amr).toEqual(['hwk', 'user', 'mfa']);
  }, 60_000);
});

describe('the offer of a passkey after a password login (upgrade prompt)', () => {
  let t: TestApp;
  let client: Client;
  beforeAll(async () => {
    t = await startTestApp({ overrides: { passkeys: { upgradePrompt: true } } });
    client = await registerClient(t.app);
  }, 180_000);
  afterAll(async () => {
    await t?.close();
  });

  /** A password login at the RP: the page it stops on (the offer, or the redirect to the RP). */
  async function passwordLogin(email: string, browser = new HttpClient(ENGLISH)) {
    const auth = authorizationUrl(t.issuer, client.client_id, { prompt: 'login' });
    const page = await loginThroughPages(browser, auth.url, RP_CALLBACK, { email, password: TEST_PASSWORD });
    return { browser, auth, page };
  }
  const isOffer = (page: PageResponse) => page.url.endsWith('/passkey-offer') && page.status === 200;
  const offerOptions = (page: PageResponse) =>
    JSON.parse(
      page.body.match(/<script type="application\/json" id="passkey-options">([\s\S]*?)<\/script>/)![1]!,
    ) as PublicKeyCredentialCreationOptionsJSON;

  it('offers a passkey once; "not now" goes on to the app and waits 30 days', async () => {
    const user = await registerUser(t.app, { locale: 'en' });
    const { browser, auth, page } = await passwordLogin(user.email);
    expect(isOffer(page)).toBe(true);
    expect(page.body).toContain(en('passkeyOffer.heading'));
    expect(page.body).toContain('data-auto-register');
    const later = await submitForm(browser, page, '/passkey-offer/later', {});
    const claims = await redeemAtRp(t.issuer, client, await followToRp(browser, later), auth.verifier);
    expect(claims.amr).toEqual(['pwd']);
    const row = await accountRow(t.app, user.id);
    const days = (row.passkey_prompt_snoozed_until!.getTime() - Date.now()) / 86_400_000;
    expect(Math.round(days)).toBe(30);
    // The next password login goes straight on.
    expect((await passwordLogin(user.email)).page.location?.startsWith(RP_CALLBACK)).toBe(true);
  });

  it('"don’t ask again" is kept', async () => {
    const user = await registerUser(t.app, { locale: 'en' });
    const { browser, auth, page } = await passwordLogin(user.email);
    const never = await submitForm(browser, page, '/passkey-offer/never', {});
    await redeemAtRp(t.issuer, client, await followToRp(browser, never), auth.verifier);
    expect((await accountRow(t.app, user.id)).passkey_prompt_never).toBe(true);
    expect((await passwordLogin(user.email)).page.location?.startsWith(RP_CALLBACK)).toBe(true);
  });

  it('creates the passkey, goes on to the app, and the next login can use it', async () => {
    const user = await registerUser(t.app, { locale: 'en' });
    const { browser, auth, page } = await passwordLogin(user.email);
    const authenticator = new SoftwareAuthenticator(t.issuer);
    // An answer without user verification from the dialog is refused; the page offers it again.
    const refused = await submitForm(browser, page, '/passkey-offer', {
      response: JSON.stringify(new SoftwareAuthenticator(t.issuer).create(offerOptions(page), { userVerified: false })),
    });
    expect(refused.status).toBe(401);
    expect(isOffer({ ...refused, status: 200 })).toBe(true);
    const created = await submitForm(browser, refused, '/passkey-offer', {
      response: JSON.stringify(authenticator.create(offerOptions(refused))),
    });
    const claims = await redeemAtRp(t.issuer, client, await followToRp(browser, created), auth.verifier);
    expect(claims.amr).toEqual(['pwd']); // this login was made with the password
    expect(await listPasskeys(t.app.db, user.id)).toHaveLength(1);
    expect(await auditTypes(t.app, user.id)).toContain('passkey.added');
    // No offer any more; and the passkey signs in alone.
    expect((await passwordLogin(user.email)).page.location?.startsWith(RP_CALLBACK)).toBe(true);
    const next = new HttpClient(ENGLISH);
    const again = authorizationUrl(t.issuer, client.client_id, { prompt: 'login' });
    const emailPage = await next.follow(again.url);
    const options = await optionsFor(next, emailPage, '/passkey');
    const signedIn = await submitForm(next, emailPage, '/passkey', {
      response: JSON.stringify(authenticator.get(options)),
    });
    const passkeyClaims = await redeemAtRp(t.issuer, client, await followToRp(next, signedIn), again.verifier);
    expect(passkeyClaims.amr).toEqual(['hwk', 'user', 'mfa']);
  });

  it('takes a passkey made by conditional create (no dialog: UV clear) only as such', async () => {
    const user = await registerUser(t.app, { locale: 'en' });
    const { browser, auth, page } = await passwordLogin(user.email);
    const authenticator = new SoftwareAuthenticator(t.issuer);
    const created = await submitForm(browser, page, '/passkey-offer', {
      response: JSON.stringify(authenticator.create(offerOptions(page), { userVerified: false })),
      auto: '1',
    });
    await redeemAtRp(t.issuer, client, await followToRp(browser, created), auth.verifier);
    expect(await listPasskeys(t.app.db, user.id)).toHaveLength(1);
  });

  it('the offer pages need a login waiting on them', async () => {
    const { browser, page } = await (async () => {
      const b = new HttpClient(ENGLISH);
      const auth = authorizationUrl(t.issuer, client.client_id);
      return { browser: b, page: await b.follow(auth.url) };
    })();
    const uid = interactionUid(page);
    const direct = await browser.request(`${t.issuer}/interaction/${uid}/passkey-offer`);
    expect(direct.status).toBe(400);
    expect(alertText(direct.body)).toBe(en('errors.INTERACTION_EXPIRED'));
  });
});
