/**
 * `locales.supported` decides which languages Monban speaks: the globe menu, the page language
 * (whatever the browser, the RP's ui_locales, a ?lang= or a cookie asks for), the profile's
 * language menu, mails, and discovery's ui_locales_supported. Here the operator offers English only.
 */
import { ENGLISH, open, signInToAccount, startAccountHarness, type AccountHarness } from '../../helpers/account.js';
import {
  authorizationUrl,
  messageText,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import { HttpClient, submitForm } from '../../helpers/http-client.js';

const JAPANESE = { 'accept-language': 'ja' };

/** The languages the globe menu offers, as `lang` attributes of its entries (current one included). */
function menuLanguages(html: string): string[] {
  const menu = html.match(/<nav class="globe"[\s\S]*?<\/nav>/)?.[0] ?? '';
  return [...menu.matchAll(/<(?:a|strong)\b[^>]*\blang="([^"]+)"/g)].map((m) => m[1]!);
}

const htmlLang = (html: string) => html.match(/<html lang="([^"]+)"/)?.[1];

describe('locales.supported', () => {
  let h: AccountHarness;

  beforeAll(async () => {
    h = await startAccountHarness({ locales: { supported: ['en'], default: 'en' } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('offers exactly the configured languages in the globe menu, and no other whatever is asked', async () => {
    const browser = new HttpClient(JAPANESE);
    for (const path of ['/help', '/help?lang=ja', '/signup?ui_locales=ja']) {
      const page = await browser.request(`${h.issuer}${path}`);
      expect(page.status).toBe(200);
      expect(htmlLang(page.body)).toBe('en');
      expect(menuLanguages(page.body)).toEqual(['en']);
      expect(page.body).not.toContain('lang=ja');
      expect(page.body).toContain(messageText('en', 'nav.help'));
    }
    // ?lang=ja was not remembered, and a cookie left from before does not bring Japanese back.
    expect(await browser.jar.getCookieString(h.issuer)).not.toContain('monban_lang=ja');
    await browser.jar.setCookie('monban_lang=ja; Path=/', h.issuer);
    expect(htmlLang((await browser.request(`${h.issuer}/help`)).body)).toBe('en');
  });

  it("speaks the offered language on a login's pages when the RP asks for another (ui_locales)", async () => {
    const client = await registerClient(h.app);
    const browser = new HttpClient(JAPANESE);
    const login = await browser.follow(
      authorizationUrl(h.issuer, client.client_id, { ui_locales: 'ja' }).url,
      RP_CALLBACK,
    );
    expect(login.status).toBe(200);
    expect(htmlLang(login.body)).toBe('en');
    expect(menuLanguages(login.body)).toEqual(['en']);
  });

  it('publishes the offered languages in discovery (ui_locales_supported)', async () => {
    const discovery = (await (await fetch(`${h.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(discovery.ui_locales_supported).toEqual(['en']);
  });

  it("offers only the configured languages in the profile, refuses another, and mails in the default when the account's is not offered", async () => {
    const user = await registerUser(h.app, { locale: 'ja' });
    const browser = new HttpClient(ENGLISH);
    await signInToAccount(browser, h.issuer, user.email, TEST_PASSWORD);
    const personal = await open(browser, h.issuer, '/account/personal');
    expect(personal.status).toBe(200);
    const select = personal.body.match(/<select id="locale"[\s\S]*?<\/select>/)?.[0] ?? '';
    expect([...select.matchAll(/<option value="([^"]*)"/g)].map((m) => m[1])).toEqual(['en']);

    const refused = await submitForm(browser, personal, '/account/personal', { locale: 'ja' });
    expect(refused.status).toBe(400);
    expect(refused.body).toContain(messageText('en', 'errors.LOCALE_INVALID'));

    // The forgot-email page mails the owner of a registered address, in the account's language if offered.
    const stranger = new HttpClient(ENGLISH);
    const lookup = await stranger.request(`${h.issuer}/forgot-email`);
    expect((await submitForm(stranger, lookup, '/forgot-email', { identifier: user.email })).status).toBe(200);
    const mail = await h.mail.waitFor(user.email, (m) => m.subject === messageText('en', 'emails.emailLookup.subject'));
    expect(mail.html).toContain('<html lang="en">');
  });
});

describe('locales.supported by default', () => {
  let h: AccountHarness;

  beforeAll(async () => {
    h = await startAccountHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('offers Japanese and English, in that order, and follows the browser between them', async () => {
    const ja = await new HttpClient(JAPANESE).request(`${h.issuer}/help`);
    expect(menuLanguages(ja.body)).toEqual(['ja', 'en']);
    expect(htmlLang(ja.body)).toBe('ja');
    const en = await new HttpClient(ENGLISH).request(`${h.issuer}/help`);
    expect(htmlLang(en.body)).toBe('en');
  });
});
