/**
 * With an https issuer, every cookie scoped to / carries the __Host- prefix (RFC 6265bis
 * 4.1.3.2: Secure, Path=/, no Domain), so a sibling subdomain or a plain-http page cannot set or
 * shadow Monban's session or CSRF cookies. Monban runs as in production: behind a TLS-terminating
 * proxy on loopback, the issuer https, the browser a client that trusts the proxy's certificate
 * and (like a browser) sends Secure cookies over HTTPS only.
 */
import { freePort } from '../../helpers/app.js';
import { ENGLISH, open, signInToAccount, startAccountHarness, type AccountHarness } from '../../helpers/account.js';
import { messageText, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import {
  TlsClient,
  loginThroughPages,
  submitForm,
  unescapeHtml,
  type PageResponse,
} from '../../helpers/http-client.js';
import { TlsProxy } from '../../helpers/tls-proxy.js';

interface SetCookie {
  name: string;
  attributes: string[];
  raw: string;
}

function parse(raw: string): SetCookie {
  const [pair, ...attributes] = raw.split(';').map((part) => part.trim());
  return { name: pair!.split('=')[0]!, attributes: attributes.map((a) => a.toLowerCase()), raw };
}

/** A browser behind which every Set-Cookie the server sends is kept for inspection. */
class WatchedBrowser extends TlsClient {
  readonly setCookies: SetCookie[] = [];
  override async request(url: string, init: Parameters<TlsClient['request']>[1] = {}): Promise<PageResponse> {
    const res = await super.request(url, init);
    this.setCookies.push(...res.headers.getSetCookie().map(parse));
    return res;
  }
}

describe('cookies on an https issuer', () => {
  let h: AccountHarness;
  let proxy: TlsProxy;

  beforeAll(async () => {
    proxy = new TlsProxy(await freePort());
    h = await startAccountHarness({ issuer: proxy.origin, trustProxy: true });
    await proxy.start(h.app.config.port);
  });
  afterAll(async () => {
    await h?.close();
    await proxy?.stop();
  });

  it('every cookie scoped to / is __Host- prefixed, Secure and without Domain, and the login works with them', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new WatchedBrowser(proxy.certificate, ENGLISH);
    await browser.request(`${h.issuer}/help?lang=en`); // the language cookie
    const hub = await signInToAccount(browser, h.issuer, user.email);
    expect(hub.status).toBe(200);
    // A form that checks the CSRF token (read back from the prefixed cookie) and the session.
    const security = await open(browser, h.issuer, '/account/security');
    expect(security.status).toBe(200);

    const rooted = browser.setCookies.filter((c) => c.attributes.includes('path=/'));
    const names = new Set(rooted.map((c) => c.name));
    for (const name of [
      '__Host-monban_session',
      '__Host-monban_session.sig',
      '__Host-monban_csrf',
      '__Host-monban_lang',
    ])
      expect(names).toContain(name);
    for (const cookie of rooted) {
      expect([cookie.raw, cookie.name.startsWith('__Host-')]).toEqual([cookie.raw, true]);
      expect([cookie.raw, cookie.attributes.includes('secure')]).toEqual([cookie.raw, true]);
      expect([cookie.raw, cookie.attributes.some((a) => a.startsWith('domain='))]).toEqual([cookie.raw, false]);
    }
    // Every other cookie is Secure too, and scoped to a path of its own.
    for (const cookie of browser.setCookies)
      expect([cookie.raw, cookie.attributes.includes('secure')]).toEqual([cookie.raw, true]);
  });

  it('the notice cookie after a password change is prefixed too, and the login page reads it', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new WatchedBrowser(proxy.certificate, ENGLISH);
    await signInToAccount(browser, h.issuer, user.email);
    await h.app.db
      .updateTable('accounts')
      .set({ password_changed_at: new Date(Date.now() - 7200_000) })
      .where('id', '=', user.id)
      .execute();
    const form = await open(browser, h.issuer, '/account/security/password');
    const changed = await submitForm(browser, form, '/account/security/password', {
      current_password: TEST_PASSWORD,
      password: 'Momiji-Yama-2027!',
      password_confirmation: 'Momiji-Yama-2027!',
    });
    expect(changed.status).toBe(303);
    expect(browser.setCookies.map((c) => c.name)).toContain('__Host-monban_notice');
    const loginPage = await browser.follow(changed.location!);
    expect(unescapeHtml(loginPage.body)).toContain(messageText('en', 'account.passwordChangedNotice'));
    const login = await loginThroughPages(browser, `${h.issuer}/account`, `${h.issuer}/account/callback`, {
      email: user.email,
      password: 'Momiji-Yama-2027!',
    });
    expect(login.location?.startsWith(`${h.issuer}/account/callback`)).toBe(true);
  });
});
