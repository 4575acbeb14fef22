import { startTestApp, type TestApp } from '../../helpers/app.js';
import { authorizationUrl, messageText, registerClient, registerUser } from '../../helpers/fixtures.js';
import {
  alertText,
  HttpClient,
  openPasswordStep,
  submitForm,
  unescapeHtml,
  type PageResponse,
} from '../../helpers/http-client.js';

type Locale = 'ja' | 'en';

/** Asserts the page is wholly in `locale`: html lang, heading, labels and button from views/locales. */
function expectLoginPageIn(page: PageResponse, locale: Locale): void {
  expect(page.status).toBe(200);
  expect(page.body).toContain(`<html lang="${locale}">`);
  expect(page.body).toContain(`<h1>${messageText(locale, 'login.heading')}</h1>`);
  expect(page.body).toContain(`<label for="email">${messageText(locale, 'login.email')}</label>`);
  expect(page.body).toContain(messageText(locale, 'login.next'));
  const other: Locale = locale === 'ja' ? 'en' : 'ja';
  expect(page.body).not.toContain(messageText(other, 'login.next'));
}

describe('page language (ui_locales, globe menu cookie, Accept-Language)', () => {
  let t: TestApp;
  let client: Awaited<ReturnType<typeof registerClient>>;

  beforeAll(async () => {
    t = await startTestApp();
    client = await registerClient(t.app);
  });
  afterAll(async () => {
    await t?.close();
  });

  const loginUrl = (params: Record<string, string> = {}) => authorizationUrl(t.issuer, client.client_id, params).url;

  describe("the RP's ui_locales", () => {
    it('ui_locales=en shows English even to a Japanese browser', async () => {
      const page = await new HttpClient({ 'accept-language': 'ja' }).follow(loginUrl({ ui_locales: 'en' }));
      expectLoginPageIn(page, 'en');
    });

    it('ui_locales=ja shows Japanese even to an English browser', async () => {
      const page = await new HttpClient({ 'accept-language': 'en-US,en;q=0.9' }).follow(loginUrl({ ui_locales: 'ja' }));
      expectLoginPageIn(page, 'ja');
    });

    it('takes the first supported language of the list', async () => {
      const page = await new HttpClient({ 'accept-language': 'ja' }).follow(loginUrl({ ui_locales: 'fr-CA en-GB ja' }));
      expectLoginPageIn(page, 'en');
    });

    it('keeps the language on the password step and in its error message', async () => {
      const user = await registerUser(t.app);
      const browser = new HttpClient({ 'accept-language': 'en' });
      const page = await openPasswordStep(browser, loginUrl({ ui_locales: 'ja' }), user.email);
      expect(page.body).toContain('<html lang="ja">');
      expect(page.body).toContain(messageText('ja', 'login.password'));
      const failed = await submitForm(browser, page, '/password', { password: 'not-the-password' });
      expect(failed.status).toBe(401);
      expect(failed.body).toContain('<html lang="ja">');
      expect(alertText(failed.body)).toBe(messageText('ja', 'errors.LOGIN_FAILED'));
    });

    it("is not remembered as the user's choice for later logins without ui_locales", async () => {
      const user = await registerUser(t.app);
      const browser = new HttpClient({ 'accept-language': 'en' });
      // Log in to an RP that asks for Japanese, submitting the forms as a browser does.
      const page = await openPasswordStep(browser, loginUrl({ ui_locales: 'ja' }), user.email);
      expect(page.body).toContain('<html lang="ja">');
      const failed = await submitForm(browser, page, '/password', { password: 'not-the-password' });
      expect(failed.body).toContain('<html lang="ja">');
      // "Change" the address, back on the first step of the same login: still Japanese.
      const change = failed.body.match(/<a href="([^"]+)">[^<]*<\/a><\/p>/)?.[1];
      expect(unescapeHtml(change!)).toContain('change=1');
      expectLoginPageIn(await browser.follow(new URL(unescapeHtml(change!), t.issuer).toString()), 'ja');
      expect(browser.jar.getCookiesSync(t.issuer).map((c) => c.key)).not.toContain('monban_lang');
      // The next RP does not send ui_locales: the browser's English applies again.
      expectLoginPageIn(await browser.follow(loginUrl()), 'en');
    });

    it('a language picked in the globe menu stays through both login steps', async () => {
      const user = await registerUser(t.app);
      const browser = new HttpClient({ 'accept-language': 'ja' });
      const first = await browser.follow(loginUrl({ ui_locales: 'ja' }));
      expectLoginPageIn(first, 'ja');
      const englishLink = first.body.match(/<a href="([^"]+)"[^>]*data-lang="en"/)?.[1];
      const emailPage = await browser.request(new URL(unescapeHtml(englishLink!), t.issuer).toString());
      expectLoginPageIn(emailPage, 'en');
      const passwordPage = await submitForm(browser, emailPage, '/email', { email: user.email });
      expect(passwordPage.body).toContain('<html lang="en">');
      // The password step answers the form; its language menu leads to the step's own address.
      expect(passwordPage.body).toMatch(/<a href="\/interaction\/[^/"]+\/password\?lang&#x3D;ja"/);
      const failed = await submitForm(browser, passwordPage, '/password', { password: 'not-the-password' });
      expect(alertText(failed.body)).toBe(messageText('en', 'errors.LOGIN_FAILED'));
    });

    it('wins over the globe menu cookie', async () => {
      const browser = new HttpClient({ 'accept-language': 'en' });
      await browser.request(`${t.issuer}/help?lang=ja`);
      expectLoginPageIn(await browser.follow(loginUrl({ ui_locales: 'en' })), 'en');
    });
  });

  describe('without ui_locales', () => {
    it.each([
      ['en', 'ja'],
      ['ja', 'en'],
    ] as const)(
      'the monban_lang cookie from ?lang=%s decides over Accept-Language %s',
      async (picked, browserLanguage) => {
        const browser = new HttpClient({ 'accept-language': browserLanguage });
        const help = await browser.request(`${t.issuer}/help?lang=${picked}`);
        expect(help.body).toContain(`<html lang="${picked}">`);
        expect(help.headers.getSetCookie().join('\n')).toMatch(new RegExp(`monban_lang=${picked};`));

        expectLoginPageIn(await browser.follow(loginUrl()), picked);
        // Any page remembers it, the help page included.
        expect((await browser.request(`${t.issuer}/help`)).body).toContain(`<html lang="${picked}">`);
      },
    );

    it('the globe menu on the login page switches the language and remembers it', async () => {
      const browser = new HttpClient({ 'accept-language': 'ja' });
      const page = await browser.follow(loginUrl());
      expectLoginPageIn(page, 'ja');
      const english = page.body.match(/<a href="([^"]+)"[^>]*data-lang="en"/)?.[1];
      expect(english).toBeDefined();
      expectLoginPageIn(await browser.request(new URL(unescapeHtml(english!), t.issuer).toString()), 'en');
      expectLoginPageIn(await browser.follow(loginUrl()), 'en');
    });

    it.each([
      ['en-US', 'en'],
      ['en', 'en'],
      ['ja', 'ja'],
      ['ja-JP,ja;q=0.9,en;q=0.8', 'ja'],
      ['fr-FR,fr;q=0.9,en;q=0.5', 'en'],
    ] as const)('Accept-Language %s shows %s', async (acceptLanguage, expected) => {
      const page = await new HttpClient({ 'accept-language': acceptLanguage }).follow(loginUrl());
      expectLoginPageIn(page, expected);
    });

    it('falls back to the configured default without any hint', async () => {
      const page = await new HttpClient().follow(loginUrl());
      expectLoginPageIn(page, t.app.config.locales.default);
    });
  });

  describe('error pages', () => {
    it.each(['en', 'ja'] as const)('the expired-interaction page is in %s', async (locale) => {
      const res = await new HttpClient({ 'accept-language': locale }).request(`${t.issuer}/interaction/xyz`);
      expect(res.status).toBe(400);
      expect(res.body).toContain(`<html lang="${locale}">`);
      expect(res.body).toContain(messageText(locale, 'errors.heading'));
      expect(alertText(res.body)).toBe(messageText(locale, 'errors.INTERACTION_EXPIRED'));
    });

    it.each(['en', 'ja'] as const)('the OAuth error page follows ui_locales=%s', async (locale) => {
      const other = locale === 'en' ? 'ja' : 'en';
      const url = authorizationUrl(t.issuer, 'no-such-client', { ui_locales: locale }).url;
      const res = await new HttpClient({ 'accept-language': other }).request(url);
      expect(res.status).toBe(400);
      expect(res.body).toContain(`<html lang="${locale}">`);
      expect(alertText(res.body)).toBe(messageText(locale, 'errors.OAUTH'));
    });

    it('the not-found page follows the cookie', async () => {
      const browser = new HttpClient({ 'accept-language': 'ja' });
      await browser.request(`${t.issuer}/help?lang=en`);
      const res = await browser.request(`${t.issuer}/no/such/page`);
      expect(res.status).toBe(404);
      expect(alertText(res.body)).toBe(messageText('en', 'errors.NOT_FOUND'));
    });
  });
});
