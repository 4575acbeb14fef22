import { NEW_PASSWORD, startAccountHarness, type AccountHarness } from '../../helpers/account.js';
import { registerClient, registerUser, RP_CALLBACK, authorizationUrl } from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages, submitForm } from '../../helpers/http-client.js';
import { ENGLISH } from '../../helpers/account.js';
import { chooseNewPassword, isPage, resetByEmail } from '../../helpers/recovery.js';

// Issue 6: the forgot-password pages (R1-R5) on PostgreSQL + Redis with real SMTP.
describe('forgot password pages', () => {
  let h: AccountHarness;
  let client: Awaited<ReturnType<typeof registerClient>>;
  beforeAll(async () => {
    h = await startAccountHarness();
    client = await registerClient(h.app);
  });
  afterAll(async () => { await h.close(); });

  it('resets by email from a waiting login and continues to the RP with the new password', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new HttpClient(ENGLISH);
    const auth = authorizationUrl(h.issuer, client.client_id);
    const emailStep = await browser.follow(auth.url);
    const uid = new URL(emailStep.url).pathname.split('/')[2]!;
    const passwordStep = await browser.follow((await submitForm(browser, emailStep, '/email', { email: user.email })).location!);
    const forgot = await browser.request(`${h.issuer}/interaction/${uid}/forgot-password`);
    expect(forgot.body).toContain(`value="${user.email}"`);
    expect(passwordStep.body).toContain(`/interaction/${uid}/forgot-password`);

    const done = await resetByEmail(browser, h.issuer, h.mail, user.email, NEW_PASSWORD, uid);
    expect(done.status).toBe(303);
    expect(done.location).toBe(`${h.issuer}/interaction/${uid}/password?reset=1`);
    const back = await browser.follow(done.location!);
    expect(back.body).toContain('Your password has been reset');
    const toRp = await browser.follow(
      new URL((await submitForm(browser, back, '/password', { password: NEW_PASSWORD })).location!).toString(), RP_CALLBACK);
    const consentOrRp = toRp.location?.startsWith(RP_CALLBACK) ? toRp : await browser.follow(
      (await submitForm(browser, toRp, '/confirm', {})).location!, RP_CALLBACK);
    expect(consentOrRp.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
    void chooseNewPassword; void isPage; void loginThroughPages;
  });
});
