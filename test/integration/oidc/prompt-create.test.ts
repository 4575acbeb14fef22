/**
 * prompt=create (OIDC Initiating User Registration 1.0) with openid-client as the RP: the user
 * lands on the sign-up page, activates the account, logs in at the password step the sign-up
 * comes back to, consents, and the RP gets an ID token for the new account.
 */
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { messageText, registerClient, registerUser, RP_CALLBACK, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, inputValue, loginThroughPages, submitForm } from '../../helpers/http-client.js';
import { RelyingParty } from '../../helpers/rp.js';
import {
  accountsFor,
  enterCode,
  newAddress,
  noticeText,
  SIGNUP_PASSWORD,
  signUpFields,
} from '../../helpers/signup-pages.js';
import { codeIn, MailCatcher } from '../../helpers/smtp.js';

let t: TestApp;
let rp: RelyingParty;
const catcher = new MailCatcher();
beforeAll(async () => {
  await catcher.start();
  t = await startTestApp({
    overrides: {
      mail: { smtpUrl: catcher.url, from: 'Monban <no-reply@monban.test>' },
      registration: { perIp: { points: 1000, durationSeconds: 3600 } },
    },
  });
  const client = await registerClient(t.app);
  rp = await RelyingParty.discover(t.issuer, client.client_id, client.client_secret!);
}, 60_000);
afterAll(async () => {
  await t?.close();
  await catcher.stop();
});

test('discovery offers prompt=create', () => {
  expect(rp.metadata.prompt_values_supported).toEqual(expect.arrayContaining(['create', 'login', 'consent', 'none']));
});

test('prompt=create lands on sign-up, and the RP gets the new account logged in', async () => {
  const browser = new HttpClient({ 'accept-language': 'en' });
  const pending = await rp.authorizationRequest({ scope: 'openid email', redirect_uri: RP_CALLBACK, prompt: 'create' });
  const form = await browser.follow(pending.url.toString(), RP_CALLBACK);
  expect(new URL(form.url).pathname).toBe('/signup');
  expect(form.status).toBe(200);
  const uid = inputValue(form.body, 'interaction');
  expect(uid).toMatch(/^[\w-]{10,}$/);

  const email = newAddress('create');
  const posted = await submitForm(browser, form, '/signup', signUpFields(email));
  expect(posted.status).toBe(303);
  const verify = await browser.follow(posted.location!);
  const activated = await enterCode(browser, verify, codeIn(await catcher.waitFor(email)));
  expect(activated.location).toBe(`${t.issuer}/interaction/${uid}/password?activated=1`);
  const passwordPage = await browser.follow(activated.location!);
  expect(noticeText(passwordPage.body)).toBe(messageText('en', 'signup.activatedNotice'));

  let page = await submitForm(browser, passwordPage, '/password', { password: SIGNUP_PASSWORD });
  page = await browser.follow(page.location!, RP_CALLBACK);
  if (!page.location?.startsWith(RP_CALLBACK))
    page = await browser.follow((await submitForm(browser, page, '/confirm', {})).location!, RP_CALLBACK);
  expect(page.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
  const tokens = await rp.redeem(new URL(page.location!), pending);
  const [account] = await accountsFor(t.app, email);
  expect(tokens.claims()).toMatchObject({ sub: account!.id, email, email_verified: true });
});

test('a user who already has an account goes from sign-up back to the login and logs in', async () => {
  const user = await registerUser(t.app, { locale: 'en' });
  const pending = await rp.authorizationRequest({ scope: 'openid', redirect_uri: RP_CALLBACK, prompt: 'create' });
  const browser = new HttpClient({ 'accept-language': 'en' });
  const signUpPage = await browser.follow(pending.url.toString(), RP_CALLBACK);
  expect(new URL(signUpPage.url).pathname).toBe('/signup');
  const uid = inputValue(signUpPage.body, 'interaction')!;
  const last = await loginThroughPages(browser, `${t.issuer}/interaction/${uid}`, RP_CALLBACK, {
    email: user.email,
    password: TEST_PASSWORD,
  });
  expect(last.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
  expect((await rp.redeem(new URL(last.location!), pending)).claims()?.sub).toBe(user.id);
});
