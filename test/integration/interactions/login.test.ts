import { startTestApp, type TestApp } from '../../helpers/app.js';
import {
  authorizationUrl,
  exchangeCode,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import { formAction, HttpClient, inputValue, loginThroughPages } from '../../helpers/http-client.js';

describe('identifier-first login (L1, L2)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('logs a user in through the email and password pages and issues a code the RP can redeem', async () => {
    const client = await registerClient(t.app);
    const user = await registerUser(t.app, { locale: 'en' });
    const auth = authorizationUrl(t.issuer, client.client_id);
    const browser = new HttpClient();
    const last = await loginThroughPages(browser, auth.url, RP_CALLBACK, {
      email: user.email,
      password: TEST_PASSWORD,
    });
    expect(last.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
    const callback = new URL(last.location!);
    expect(callback.searchParams.get('state')).toBe(auth.state);

    const token = await exchangeCode(t.issuer, client, callback.searchParams.get('code')!, auth.verifier);
    expect(token.status).toBe(200);
    const body = (await token.json()) as Record<string, string>;
    expect(body.id_token).toBeDefined();
    expect(body.access_token).toBeDefined();
  });

  /** A user who has logged in to a new app once (its consent is remembered), and the app. */
  async function returningUser() {
    const client = await registerClient(t.app);
    const user = await registerUser(t.app, { locale: 'en' });
    const first = await loginThroughPages(
      new HttpClient(),
      authorizationUrl(t.issuer, client.client_id).url,
      RP_CALLBACK,
      {
        email: user.email,
        password: TEST_PASSWORD,
      },
    );
    expect(first.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
    return { client, user };
  }

  it('the password form answers with the code for the app: no stop at /auth/:uid, which is then spent', async () => {
    const { client, user } = await returningUser();
    const auth = authorizationUrl(t.issuer, client.client_id);
    const browser = new HttpClient({ 'accept-language': 'en' });
    const emailStep = await browser.follow(auth.url, RP_CALLBACK);
    const uid = /\/interaction\/([^/]+)\/email/.exec(formAction(emailStep.body, '/email')!)![1]!;
    const passwordStep = await browser.request(`${t.issuer}/interaction/${uid}/email`, {
      form: { _csrf: inputValue(emailStep.body, '_csrf')!, email: user.email },
    });
    expect(passwordStep.status).toBe(200);
    const answer = await browser.request(`${t.issuer}/interaction/${uid}/password`, {
      form: { _csrf: inputValue(passwordStep.body, '_csrf')!, password: TEST_PASSWORD },
    });
    // The resume's own answer: the code for the app, the session cookie, the resume cookie cleared.
    expect(answer.status).toBe(303);
    const callback = new URL(answer.location!);
    expect(`${callback.origin}${callback.pathname}`).toBe(RP_CALLBACK);
    expect(callback.searchParams.get('state')).toBe(auth.state);
    const cookies = answer.headers.getSetCookie();
    expect(cookies.some((c) => c.startsWith('monban_resume=;') && c.includes(`path=/auth/${uid}`))).toBe(true);
    expect(cookies.some((c) => /^monban_session=[^;]+/.test(c) || /^__Host-monban_session=[^;]+/.test(c))).toBe(true);

    const token = await exchangeCode(t.issuer, client, callback.searchParams.get('code')!, auth.verifier);
    expect(token.status).toBe(200);
    const idToken = ((await token.json()) as { id_token: string }).id_token;
    const claims = JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ sub: expect.any(String), amr: ['pwd'] });

    // The interaction is spent: going to its resume now gives no second code.
    const again = await browser.request(`${t.issuer}/auth/${uid}`);
    expect(again.location ?? '').not.toContain('code=');
    // And a page of it is gone too.
    const page = await browser.request(`${t.issuer}/interaction/${uid}/password`);
    expect(page.location ?? '').not.toContain(RP_CALLBACK);
  });

  it('a wrong password stays on the password page, and the interaction can still finish', async () => {
    const { client, user } = await returningUser();
    const auth = authorizationUrl(t.issuer, client.client_id);
    const browser = new HttpClient({ 'accept-language': 'en' });
    const emailStep = await browser.follow(auth.url, RP_CALLBACK);
    const passwordStep = await browser.request(new URL(formAction(emailStep.body, '/email')!, t.issuer).toString(), {
      form: { _csrf: inputValue(emailStep.body, '_csrf')!, email: user.email },
    });
    const action = new URL(formAction(passwordStep.body, '/password')!, t.issuer).toString();
    const wrong = await browser.request(action, {
      form: { _csrf: inputValue(passwordStep.body, '_csrf')!, password: `${TEST_PASSWORD}x` },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.location).toBeUndefined();
    const right = await browser.request(action, {
      form: { _csrf: inputValue(wrong.body, '_csrf')!, password: TEST_PASSWORD },
    });
    expect(right.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
  });

  it("a first login to an app answers the password form with the consent page's address", async () => {
    const client = await registerClient(t.app);
    const user = await registerUser(t.app, { locale: 'en' });
    const browser = new HttpClient({ 'accept-language': 'en' });
    const emailStep = await browser.follow(authorizationUrl(t.issuer, client.client_id).url, RP_CALLBACK);
    const passwordStep = await browser.request(new URL(formAction(emailStep.body, '/email')!, t.issuer).toString(), {
      form: { _csrf: inputValue(emailStep.body, '_csrf')!, email: user.email },
    });
    const answer = await browser.request(new URL(formAction(passwordStep.body, '/password')!, t.issuer).toString(), {
      form: { _csrf: inputValue(passwordStep.body, '_csrf')!, password: TEST_PASSWORD },
    });
    // The resume asks for consent in a new interaction; its page, then its form, ends at the app.
    expect(answer.status).toBe(303);
    expect(answer.location).toMatch(new RegExp(`^${t.issuer}/interaction/[^/]+$`));
    const consent = await browser.request(answer.location!);
    expect(consent.body).toContain('Test RP');
    const confirmed = await browser.request(new URL(formAction(consent.body, '/confirm')!, t.issuer).toString(), {
      form: { _csrf: inputValue(consent.body, '_csrf')! },
    });
    expect(confirmed.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
  });
});
