/**
 * Duo (Universal Prompt, Web SDK v4) as the second factor, against a fake Duo on loopback that
 * the real @duosecurity/duo_universal client talks to over HTTPS. Enrollment in the console and
 * inside a login, the login itself, and every way the answer from Duo can be wrong: a denial, a
 * forged state, a replayed code, an approval for someone else, Duo being down (fail closed).
 */
import { ACR } from '../../../src/oidc/acr.js';
import {
  auditTypes,
  ENGLISH,
  open,
  signedInUser,
  signInToAccount,
  startAccountHarness,
  textOf,
  type AccountHarness,
} from '../../helpers/account.js';
import { FakeDuo } from '../../helpers/fake-duo.js';
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
  HttpClient,
  loginThroughPages,
  submitForm,
  type PageResponse,
  interactionUid,
} from '../../helpers/http-client.js';
import {
  followToRp,
  givesRpACode,
  passSecondStep,
  pressOnDuoPrompt,
  recoveryCodesOnPage,
  redeemAtRp,
} from '../../helpers/mfa.js';
import { formErrors } from '../../helpers/signup-pages.js';

const CHOICE = '/account/security/mfa';

describe('Duo as the second factor', () => {
  let duo: FakeDuo;
  let h: AccountHarness;
  let client: Awaited<ReturnType<typeof registerClient>>;
  beforeAll(async () => {
    duo = await new FakeDuo().start();
    h = await startAccountHarness({}, { duo });
    client = await registerClient(h.app);
  });
  afterAll(async () => {
    await h?.close();
    await duo?.stop();
  });
  afterEach(() => {
    duo.healthy = true;
    delete duo.usernameOverride;
  });

  const factorsOf = (accountId: string) =>
    h.app.db
      .selectFrom('mfa_factors')
      .select(['kind', 'state', 'secret_sealed'])
      .where('account_id', '=', accountId)
      .execute();
  /** The Duo requests made since `mark` (an index into duo.requests). */
  const requestsSince = (mark: number) => duo.requests.slice(mark);

  /** Turns Duo on in the console of a signed-in browser (through the prompt); the recovery codes shown. */
  async function enrollDuo(browser: HttpClient): Promise<string[]> {
    const choice = await open(browser, h.issuer, CHOICE);
    const toDuo = await submitForm(browser, choice, CHOICE, { method: 'duo', current_password: TEST_PASSWORD });
    if (!toDuo.location?.startsWith(duo.baseUrl)) throw new Error(`choosing Duo answered ${toDuo.status}`);
    const { back } = await pressOnDuoPrompt(duo, toDuo.location, 'allow');
    const codes = recoveryCodesOnPage(await browser.follow(back));
    if (codes.length !== 10) throw new Error('no recovery codes after the Duo setup');
    return codes;
  }

  async function userWithDuo() {
    const { user, browser } = await signedInUser(h);
    const recoveryCodes = await enrollDuo(browser);
    return { user, recoveryCodes, console: browser };
  }

  /** An RP login in a new browser up to the second step (the Duo button). */
  async function toSecondStep(email: string, headers: Record<string, string> = ENGLISH) {
    const browser = new HttpClient(headers);
    const auth = authorizationUrl(h.issuer, client.client_id);
    const page = await loginThroughPages(browser, auth.url, RP_CALLBACK, { email, password: TEST_PASSWORD });
    if (!formAction(page.body, '/mfa/duo')) throw new Error(`no Duo button on ${page.url} (${page.status})`);
    return { browser, auth, page };
  }

  /** Presses "Continue with Duo": the answer (a redirect to Duo's prompt, when Duo is up). */
  const startDuo = (browser: HttpClient, page: PageResponse, fields: Record<string, string> = {}) =>
    submitForm(browser, page, '/mfa/duo', fields);

  const uidOf = interactionUid;

  /** The state Monban put in the signed request it sent the browser to Duo with. */
  const stateSentToDuo = (authorize: URL): string =>
    (
      JSON.parse(Buffer.from(authorize.searchParams.get('request')!.split('.')[1]!, 'base64url').toString('utf8')) as {
        state: string;
      }
    ).state;

  it('turns Duo on in the console: health check first, then the prompt for this user; approval shows recovery codes', async () => {
    const { user, browser } = await signedInUser(h);
    const choice = await open(browser, h.issuer, CHOICE);
    expect(choice.body).toMatch(/<input type="radio" name="method" value="duo" id="method-duo">/);
    expect(choice.body).toContain(en('mfa.setup.duo'));

    const mark = duo.requests.length;
    const toDuo = await submitForm(browser, choice, CHOICE, { method: 'duo', current_password: TEST_PASSWORD });
    expect(toDuo.status).toBe(303);
    const authorize = new URL(toDuo.location!);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${duo.baseUrl}/oauth/v1/authorize`);
    expect(authorize.searchParams.get('client_id')).toBe(duo.clientId);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${h.issuer}/account/security/mfa/duo/callback`);
    // Monban asked Duo whether it is up before sending the browser there.
    expect(requestsSince(mark)).toEqual(['/oauth/v1/health_check']);
    expect(await factorsOf(user.id)).toEqual([{ kind: 'duo', state: 'pending', secret_sealed: null }]);

    const { user: promptUser, back } = await pressOnDuoPrompt(duo, toDuo.location!, 'allow');
    expect(promptUser).toBe(user.email);
    expect(back.startsWith(`${h.issuer}/account/security/mfa/duo/callback?`)).toBe(true);
    const codesPage = await browser.follow(back);
    expect(codesPage.status).toBe(200);
    expect(codesPage.body).toContain(en('mfa.codes.saved'));
    const codes = recoveryCodesOnPage(codesPage);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    expect(requestsSince(mark)).toEqual([
      '/oauth/v1/health_check',
      '/oauth/v1/authorize',
      '/oauth/v1/decide',
      '/oauth/v1/token',
    ]);

    expect(await factorsOf(user.id)).toEqual([{ kind: 'duo', state: 'active', secret_sealed: null }]);
    const security = await open(browser, h.issuer, '/account/security');
    expect(textOf(security.body, 'mfa-status')).toBe(
      en('account.security.mfaOnDuo', {
        since: new Intl.DateTimeFormat('en', { timeZone: 'UTC', dateStyle: 'long' }).format(new Date()),
      }),
    );
    expect(security.body).toContain(en('account.security.mfaOffReminderDuo'));
    for (const code of codes) expect(security.body).not.toContain(code);
    const mail = await h.mail.waitFor(user.email, (m) => m.subject === en('emails.mfaEnabled.subject'));
    expect(mail.text).toContain(en('emails.mfaEnabled.duo'));
    const audit = await h.app.db
      .selectFrom('audit_events')
      .select('details')
      .where('account_id', '=', user.id)
      .where('type', '=', 'mfa.enabled')
      .execute();
    expect(audit.map((r) => r.details)).toEqual([{ kind: 'duo' }]);
    // The callback cannot be used twice.
    const replay = await browser.request(back);
    expect(recoveryCodesOnPage(replay)).toEqual([]);
    expect(formErrors(replay.body)).toEqual([en('errors.DUO_DENIED')]);
  });

  it('in the console, a denial, a forged state or Duo being down leave MFA off', async () => {
    const { user, browser } = await signedInUser(h);
    const choose = async () =>
      submitForm(browser, await open(browser, h.issuer, CHOICE), CHOICE, {
        method: 'duo',
        current_password: TEST_PASSWORD,
      });

    const denied = await browser.request((await pressOnDuoPrompt(duo, (await choose()).location!, 'deny')).back);
    expect(denied.status).toBe(401);
    expect(formErrors(denied.body)).toEqual([en('errors.DUO_DENIED')]);
    expect(recoveryCodesOnPage(denied)).toEqual([]);

    const approved = new URL((await pressOnDuoPrompt(duo, (await choose()).location!, 'allow')).back);
    const state = approved.searchParams.get('state')!;
    approved.searchParams.set('state', `${state.slice(0, -1)}${state.endsWith('a') ? 'b' : 'a'}`);
    const forged = await browser.request(approved.toString());
    expect(forged.status).toBe(401);
    expect(formErrors(forged.body)).toEqual([en('errors.DUO_DENIED')]);

    duo.healthy = false;
    const mark = duo.requests.length;
    const down = await choose();
    expect(down.status).toBe(503);
    expect(down.location).toBeUndefined();
    expect(formErrors(down.body)).toEqual([en('errors.DUO_UNAVAILABLE')]);
    expect(requestsSince(mark)).toEqual(['/oauth/v1/health_check']);

    expect((await factorsOf(user.id)).filter((f) => f.state === 'active')).toEqual([]);
    expect(textOf((await open(browser, h.issuer, '/account/security')).body, 'mfa-status')).toBe(
      en('account.security.mfaNone'),
    );
    expect(await auditTypes(h.app, user.id)).not.toContain('mfa.enabled');
  });

  it('logs in with Duo: the RP gets amr pwd+mfa and acr mfa', async () => {
    const { user } = await userWithDuo();
    const { browser, auth, page } = await toSecondStep(user.email);
    expect(page.body).toContain(en('mfa.duoIntro'));
    expect(page.body).toContain(en('mfa.duoStart'));
    expect(page.body).not.toContain('name="code"');

    const mark = duo.requests.length;
    const toDuo = await startDuo(browser, page);
    expect(toDuo.status).toBe(303);
    const authorize = new URL(toDuo.location!);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${duo.baseUrl}/oauth/v1/authorize`);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${h.issuer}/interaction/${uidOf(page)}/mfa/duo/callback`);
    expect(requestsSince(mark)).toEqual(['/oauth/v1/health_check']);

    const { user: promptUser, back } = await pressOnDuoPrompt(duo, toDuo.location!, 'allow');
    expect(promptUser).toBe(user.email);
    const passed = await browser.request(back);
    expect(passed.status).toBe(303);
    const claims = await redeemAtRp(h.issuer, client, await followToRp(browser, passed), auth.verifier);
    expect(claims.sub).toBe(user.id);
    expect(claims.amr).toEqual(['pwd', 'mfa']);
    expect(claims.acr).toBe(ACR.mfa);
  });

  it('a denial in Duo refuses the login with 401 and gives the RP nothing; Duo can be tried again', async () => {
    const { user } = await userWithDuo();
    const { browser, page } = await toSecondStep(user.email);
    const denied = await browser.request(
      (await pressOnDuoPrompt(duo, (await startDuo(browser, page)).location!, 'deny')).back,
    );
    expect(denied.status).toBe(401);
    expect(givesRpACode(denied)).toBe(false);
    expect(alertText(denied.body)).toBe(en('errors.DUO_DENIED'));
    expect(formAction(denied.body, '/mfa/duo')).toBeDefined();
    expectNoInternals(denied);
    const failed = await h.app.db
      .selectFrom('audit_events')
      .select('details')
      .where('account_id', '=', user.id)
      .where('type', '=', 'mfa.failed')
      .execute();
    expect(failed.map((r) => r.details)).toEqual([{ kind: 'duo' }]);
    // Nothing came of the denial: the authorization endpoint still wants the login.
    expect(givesRpACode(await browser.follow(`${h.issuer}/auth/${uidOf(page)}`, RP_CALLBACK))).toBe(false);

    // Approving on a second try finishes the login.
    const second = await toSecondStep(user.email);
    const retried = await startDuo(second.browser, second.page);
    const ok = await second.browser.request((await pressOnDuoPrompt(duo, retried.location!, 'allow')).back);
    expect((await redeemAtRp(h.issuer, client, await followToRp(second.browser, ok), second.auth.verifier)).acr).toBe(
      ACR.mfa,
    );
  });

  it('refuses a callback whose state was tampered with', async () => {
    const { user } = await userWithDuo();
    const { browser, auth, page } = await toSecondStep(user.email);
    const { back } = await pressOnDuoPrompt(duo, (await startDuo(browser, page)).location!, 'allow');
    const url = new URL(back);
    const state = url.searchParams.get('state')!;
    url.searchParams.set('state', `${state.slice(0, -1)}${state.endsWith('a') ? 'b' : 'a'}`);
    const mark = duo.requests.length;
    const tampered = await browser.request(url.toString());
    expect(tampered.status).toBe(401);
    expect(givesRpACode(tampered)).toBe(false);
    expect(alertText(tampered.body)).toBe(en('errors.DUO_DENIED'));
    // The code was not even redeemed at Duo.
    expect(requestsSince(mark)).toEqual([]);
    // Without any state, or with the state only: refused as well.
    const noState = new URL(back);
    noState.searchParams.delete('state');
    expect((await browser.request(noState.toString())).status).toBe(401);

    // A fresh round trip still works.
    const again = await startDuo(browser, tampered);
    const ok = await browser.request((await pressOnDuoPrompt(duo, again.location!, 'allow')).back);
    expect((await redeemAtRp(h.issuer, client, await followToRp(browser, ok), auth.verifier)).amr).toEqual([
      'pwd',
      'mfa',
    ]);
  });

  it('refuses a replayed callback: the same duo_code does not log in twice', async () => {
    const { user } = await userWithDuo();
    const first = await toSecondStep(user.email);
    const { back } = await pressOnDuoPrompt(duo, (await startDuo(first.browser, first.page)).location!, 'allow');
    const passed = await first.browser.request(back);
    expect(passed.status).toBe(303);
    const toRp = await followToRp(first.browser, passed);
    expect(givesRpACode(toRp)).toBe(true);

    // The same callback again in the same browser.
    const replayed = await first.browser.request(back);
    expect(givesRpACode(replayed)).toBe(false);
    expect(replayed.status).toBeGreaterThanOrEqual(400);
    expect(replayed.status).toBeLessThan(500);
    expectNoInternals(replayed);

    // Someone with the password replays the code in their own login, with their own valid state.
    const thief = await toSecondStep(user.email);
    const thiefStart = new URL((await startDuo(thief.browser, thief.page)).location!);
    const thiefState = stateSentToDuo(thiefStart);
    const forged = new URL(`${h.issuer}/interaction/${uidOf(thief.page)}/mfa/duo/callback`);
    forged.searchParams.set('duo_code', new URL(back).searchParams.get('duo_code')!);
    forged.searchParams.set('state', thiefState);
    const mark = duo.requests.length;
    const refused = await thief.browser.request(forged.toString());
    expect(refused.status).toBe(401);
    expect(alertText(refused.body)).toBe(en('errors.DUO_DENIED'));
    expect(givesRpACode(refused)).toBe(false);
    // Monban did ask Duo, and Duo refused the used code.
    expect(requestsSince(mark)).toEqual(['/oauth/v1/token']);
  });

  it('fails closed when Duo is down, and a recovery code still completes the login', async () => {
    const { user, recoveryCodes } = await userWithDuo();
    const { browser, auth, page } = await toSecondStep(user.email, { 'accept-language': 'ja' });
    duo.healthy = false;
    const mark = duo.requests.length;
    const down = await startDuo(browser, page);
    expect(down.location).toBeUndefined();
    expect(down.status).toBe(503);
    expect(alertText(down.body)).toBe(ja('errors.DUO_UNAVAILABLE'));
    expect(requestsSince(mark)).toEqual(['/oauth/v1/health_check']);
    expect(givesRpACode(down)).toBe(false);
    const failed = await h.app.db
      .selectFrom('audit_events')
      .select('details')
      .where('account_id', '=', user.id)
      .where('type', '=', 'mfa.failed')
      .execute();
    expect(failed.map((r) => r.details)).toEqual([{ kind: 'duo', reason: 'unavailable' }]);

    // The page offers the recovery code right there.
    expect(formAction(down.body, '/mfa/recovery')).toBeDefined();
    const passed = await passSecondStep(browser, down, { recoveryCode: recoveryCodes[0]! });
    expect(passed.status).toBe(303);
    const claims = await redeemAtRp(h.issuer, client, await followToRp(browser, passed), auth.verifier);
    expect(claims.acr).toBe(ACR.mfa);
    expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'mfa']));
    expect(requestsSince(mark)).toEqual(['/oauth/v1/health_check']);
  });

  it('refuses an approval Duo gives for another username', async () => {
    const { user } = await userWithDuo();
    const { browser, page } = await toSecondStep(user.email);
    const toDuo = await startDuo(browser, page);
    duo.usernameOverride = `someone-else-${user.email}`;
    const { back } = await pressOnDuoPrompt(duo, toDuo.location!, 'allow');
    const refused = await browser.request(back);
    expect(refused.status).toBe(401);
    expect(alertText(refused.body)).toBe(en('errors.DUO_DENIED'));
    expect(givesRpACode(refused)).toBe(false);
    expect(
      await h.app.db
        .selectFrom('audit_events')
        .select('id')
        .where('account_id', '=', user.id)
        .where('client_id', '=', client.client_id)
        .where('type', '=', 'login.succeeded')
        .execute(),
    ).toEqual([]);
  });

  it('an account without MFA can set up Duo inside a login an RP asked MFA for', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new HttpClient(ENGLISH);
    const auth = authorizationUrl(h.issuer, client.client_id, { acr_values: ACR.mfa });
    const page = await loginThroughPages(browser, auth.url, RP_CALLBACK, {
      email: user.email,
      password: TEST_PASSWORD,
    });
    expect(page.url).toMatch(/\/mfa\/setup$/);
    expect(page.body).toContain('value="duo"');
    const mark = duo.requests.length;
    const toDuo = await submitForm(browser, page, '/mfa/setup', { method: 'duo' });
    expect(toDuo.location?.startsWith(`${duo.baseUrl}/oauth/v1/authorize?`)).toBe(true);
    expect(requestsSince(mark)).toEqual(['/oauth/v1/health_check']);

    const codesPage = await browser.follow((await pressOnDuoPrompt(duo, toDuo.location!, 'allow')).back);
    expect(codesPage.status).toBe(200);
    expect(recoveryCodesOnPage(codesPage)).toHaveLength(10);
    expect(await factorsOf(user.id)).toEqual([{ kind: 'duo', state: 'active', secret_sealed: null }]);
    const continueUrl = codesPage.body.match(/<a href="([^"]+)"[^>]*id="continue"/)![1]!.replace(/&amp;/g, '&');
    const toRp = await followToRp(browser, { ...codesPage, location: new URL(continueUrl, codesPage.url).toString() });
    const claims = await redeemAtRp(h.issuer, client, toRp, auth.verifier);
    expect(claims.acr).toBe(ACR.mfa);
    expect(claims.amr).toEqual(['pwd', 'mfa']);
  });

  it('the console Duo callback is bound to the browser that started it', async () => {
    const { user, browser } = await signedInUser(h);
    const toDuo = await submitForm(browser, await open(browser, h.issuer, CHOICE), CHOICE, {
      method: 'duo',
      current_password: TEST_PASSWORD,
    });
    const { back } = await pressOnDuoPrompt(duo, toDuo.location!, 'allow');
    // Another signed-in browser of the same account follows the link: it has no state for it.
    const other = new HttpClient(ENGLISH);
    await signInToAccount(other, h.issuer, user.email);
    const stolen = await other.request(back);
    expect(recoveryCodesOnPage(stolen)).toEqual([]);
    expect(stolen.status).toBe(401);
    expect((await factorsOf(user.id)).map((f) => f.state)).toEqual(['pending']);
    // The browser that started it finishes it (the code was not spent by the refused attempt).
    const done = await browser.follow(back);
    expect(recoveryCodesOnPage(done)).toHaveLength(10);
  });
});
