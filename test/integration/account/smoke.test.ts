import { startTestApp, type TestApp } from '../../helpers/app.js';
import { registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages } from '../../helpers/http-client.js';
import { consoleReturnPath } from '../../../src/flows/settings/auth.js';

describe('account console smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('signs in through the login pages and shows the hub', async () => {
    const user = await registerUser(t.app, { locale: 'en' });
    const browser = new HttpClient({ 'accept-language': 'en' });
    const last = await loginThroughPages(browser, `${t.issuer}/account`, `${t.issuer}/account/callback`, {
      email: user.email,
      password: TEST_PASSWORD,
    });
    expect(last.location).toMatch(/\/account\/callback\?code=/);
    const hub = await browser.follow(last.location!);
    expect(hub.status).toBe(200);
    expect(hub.body).toContain(user.email);
    expect(hub.body).toContain(user.username);
    const security = await browser.request(`${t.issuer}/account/security`);
    expect(security.status).toBe(200);
    expect(security.body).toMatch(/id="certification-hash">[0-9A-F]{4}-/);
    expect(security.body).toContain('(this browser)');
  });

  it('a page opened while logged out is the page shown after the login, and only a console page is', async () => {
    const user = await registerUser(t.app, { locale: 'en' });
    const browser = new HttpClient({ 'accept-language': 'en' });
    const last = await loginThroughPages(browser, `${t.issuer}/account/security?x=1`, `${t.issuer}/account/callback`, {
      email: user.email,
      password: TEST_PASSWORD,
    });
    const back = await browser.request(last.location!);
    expect(back.status).toBe(303);
    expect(back.location).toBe(`${t.issuer}/account/security?x=1`);
    expect((await browser.follow(back.location!)).body).toContain('id="certification-hash"');
  });

  it.each([
    '//evil.example/account',
    '/accountant',
    'https://evil.example/account',
    '/account/login',
    '/account/callback?code=x',
  ])('a return address %s is not followed', (returnTo) => {
    expect(consoleReturnPath(returnTo)).toBe('/account');
  });
});
