import { startTestApp, type TestApp } from '../../helpers/app.js';
import { ENGLISH, signInToAccount, open, landed } from '../../helpers/account.js';
import { registerUser } from '../../helpers/fixtures.js';
import { HttpClient, submitForm } from '../../helpers/http-client.js';
import { FakeDuo } from '../../helpers/fake-duo.js';
import { recoveryCodesOnPage } from '../../helpers/mfa.js';

describe('Duo smoke', () => {
  let duo: FakeDuo; let t: TestApp;
  beforeAll(async () => { duo = await new FakeDuo().start(); t = await startTestApp({ duo }); });
  afterAll(async () => { await t.close(); await duo.stop(); });

  it('enrolls through Duo and logs in with Duo', async () => {
    const user = await registerUser(t.app, { locale: 'en' });
    const browser = new HttpClient(ENGLISH);
    await signInToAccount(browser, t.issuer, user.email);
    const choice = await open(browser, t.issuer, '/account/security/mfa');
    expect(choice.body).toContain('value="duo"');
    const toDuo = await submitForm(browser, choice, '/account/security/mfa', { method: 'duo', current_password: 'Kaisha-Pass-2026!' });
    expect(toDuo.location).toContain(duo.baseUrl);
    const back = await duo.decide(toDuo.location!, 'allow');
    const codesPage = await browser.request(back);
    expect(recoveryCodesOnPage(codesPage)).toHaveLength(10);

    const b2 = new HttpClient(ENGLISH);
    const { loginThroughPages } = await import('../../helpers/http-client.js');
    const page = await loginThroughPages(b2, `${t.issuer}/account`, `${t.issuer}/account/callback`, { email: user.email, password: 'Kaisha-Pass-2026!' });
    const start = await submitForm(b2, page, '/mfa/duo', {});
    expect(start.location).toContain(duo.baseUrl);
    const denied = await b2.request(await duo.decide(start.location!, 'deny'));
    expect(denied.status).toBe(401);
    const start2 = await submitForm(b2, denied, '/mfa/duo', {});
    const ok = await b2.request(await duo.decide(start2.location!, 'allow'));
    expect(ok.status).toBe(303);
    const hub = await landed(b2, ok);
    expect(hub.url).toBe(`${t.issuer}/account`);
    duo.healthy = false;
  });
});
