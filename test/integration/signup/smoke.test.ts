import { startTestApp, type TestApp } from '../../helpers/app.js';
import { HttpClient, inputValue } from '../../helpers/http-client.js';
import { codeIn, MailCatcher } from '../../helpers/smtp.js';

describe('sign-up smoke', () => {
  let t: TestApp;
  const smtp = new MailCatcher();
  beforeAll(async () => {
    await smtp.start();
    t = await startTestApp({ overrides: { mail: { smtpUrl: smtp.url, from: 'Monban <no-reply@monban.test>' } } });
  });
  afterAll(async () => {
    await t?.close();
    await smtp.stop();
  });

  it('registers, mails a code, and the code activates the account', async () => {
    const browser = new HttpClient({ 'accept-language': 'en' });
    const form = await browser.request(`${t.issuer}/signup`);
    const email = 'new.person@example.org';
    const res = await browser.request(`${t.issuer}/signup`, {
      form: {
        _csrf: inputValue(form.body, '_csrf')!,
        email,
        password: 'Blue-Ocean-Tide-42!',
        password_confirmation: 'Blue-Ocean-Tide-42!',
        given_name: 'Aiko',
        family_name: 'Tanaka',
        country: 'JP',
      },
    });
    expect(res.status).toBe(303);
    const verify = await browser.follow(res.location!);
    const mail = await smtp.waitFor(email);
    const done = await browser.request(`${t.issuer}/signup/verify`, {
      form: { _csrf: inputValue(verify.body, '_csrf')!, code: codeIn(mail) },
    });
    expect(done.status).toBe(200);
    expect(done.body).toContain('Your account is active');
    const account = await t.app.db
      .selectFrom('accounts')
      .selectAll()
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    expect(account).toMatchObject({ status: 'active', email_verified: true, country: 'JP' });
  });
});
