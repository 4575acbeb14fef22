import { startTestApp, type TestApp } from '../../helpers/app.js';
import {
  authorizationUrl,
  exchangeCode,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages } from '../../helpers/http-client.js';

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
});
