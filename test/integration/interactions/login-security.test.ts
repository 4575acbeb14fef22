import { randomBytes } from 'node:crypto';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import {
  authorizationUrl,
  messageText,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import {
  alertText,
  HttpClient,
  inputValue,
  loginThroughPages,
  openPasswordStep,
  submitForm,
  type PageResponse,
} from '../../helpers/http-client.js';

/** Pages in English, so the messages can be compared with views/locales/en.json. */
const english = () => new HttpClient({ 'accept-language': 'en' });
const unknownEmail = () => `nobody-${randomBytes(4).toString('hex')}@example.com`;

describe('login security (L2, L5, rate limits, headers, audit)', () => {
  let t: TestApp;
  let client: Awaited<ReturnType<typeof registerClient>>;

  beforeAll(async () => {
    t = await startTestApp();
    client = await registerClient(t.app);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Opens a fresh login in a new browser and submits `password` for `email` on the password page. */
  async function attempt(email: string, password: string, browser = english()): Promise<PageResponse> {
    const page = await openPasswordStep(browser, authorizationUrl(t.issuer, client.client_id).url, email);
    expect(page.status).toBe(200);
    return submitForm(browser, page, '/password', { password });
  }

  describe('a wrong password and an unknown address look the same (L2)', () => {
    it('gives the same status, the same message and the same page for both', async () => {
      const user = await registerUser(t.app);
      const stranger = unknownEmail();
      const wrongPassword = await attempt(user.email, 'not-the-password');
      const noAccount = await attempt(stranger, TEST_PASSWORD);

      expect(wrongPassword.status).toBe(401);
      expect(noAccount.status).toBe(401);
      expect(wrongPassword.location).toBeUndefined();
      expect(noAccount.location).toBeUndefined();
      expect(alertText(wrongPassword.body)).toBe(messageText('en', 'errors.LOGIN_FAILED'));
      expect(alertText(noAccount.body)).toBe(messageText('en', 'errors.LOGIN_FAILED'));

      // Apart from the address typed, the interaction id and the CSRF token, the pages are identical.
      const normalize = (page: PageResponse, email: string) =>
        page.body
          .split(email)
          .join('EMAIL')
          .replace(/\/interaction\/[\w-]+/g, '/interaction/UID')
          .split(inputValue(page.body, '_csrf')!)
          .join('CSRF');
      expect(normalize(noAccount, stranger)).toBe(normalize(wrongPassword, user.email));
    });
  });

  describe('accounts that may not log in (L5)', () => {
    it.each([
      ['on_hold', 'errors.ACCOUNT_ON_HOLD'],
      ['disabled', 'errors.ACCOUNT_DISABLED'],
      ['pending', 'errors.ACCOUNT_PENDING'],
    ] as const)('a %s account with the right password is refused with its own message', async (status, key) => {
      const user = await registerUser(t.app, { status });
      const browser = english();
      const res = await attempt(user.email, TEST_PASSWORD, browser);
      expect(res.status).toBe(403);
      expect(res.location).toBeUndefined();
      expect(alertText(res.body)).toBe(messageText('en', key));
      // No session was made: starting over shows the login page again, not a code for the RP.
      const again = await browser.follow(authorizationUrl(t.issuer, client.client_id).url, RP_CALLBACK);
      expect(again.location).toBeUndefined();
      expect(again.body).toContain('action="/interaction/');
    });

    it.each(['on_hold', 'disabled', 'pending'] as const)(
      'a %s account with a wrong password gets the generic message, revealing nothing about its status',
      async (status) => {
        const user = await registerUser(t.app, { status });
        const res = await attempt(user.email, 'not-the-password');
        expect(res.status).toBe(401);
        expect(alertText(res.body)).toBe(messageText('en', 'errors.LOGIN_FAILED'));
      },
    );
  });

  describe('throttling wrong passwords (rateLimits.loginPerAccountAndIp: 5 per 15 minutes)', () => {
    const tooMany = () =>
      messageText('en', 'errors.TOO_MANY_ATTEMPTS', {
        minutes: Math.ceil(t.app.config.rateLimits.loginPerAccountAndIp.durationSeconds / 60),
      });

    it('refuses the 6th attempt after 5 wrong passwords, even with the right password', async () => {
      expect(t.app.config.rateLimits.loginPerAccountAndIp.points).toBe(5);
      const user = await registerUser(t.app);
      const browser = english();
      const page = await openPasswordStep(browser, authorizationUrl(t.issuer, client.client_id).url, user.email);
      for (let i = 1; i <= 5; i += 1) {
        const res = await submitForm(browser, page, '/password', { password: `wrong-${i}` });
        expect([i, res.status, alertText(res.body)]).toEqual([i, 401, messageText('en', 'errors.LOGIN_FAILED')]);
      }
      const sixth = await submitForm(browser, page, '/password', { password: TEST_PASSWORD });
      expect(sixth.status).toBe(429);
      expect(sixth.location).toBeUndefined();
      expect(alertText(sixth.body)).toBe(tooMany());

      // A new browser from the same IP is throttled for this address too.
      const elsewhere = await attempt(user.email, TEST_PASSWORD);
      expect(elsewhere.status).toBe(429);
      expect(alertText(elsewhere.body)).toBe(tooMany());

      // Other people on the same network can still log in.
      const colleague = await registerUser(t.app);
      const ok = await loginThroughPages(english(), authorizationUrl(t.issuer, client.client_id).url, RP_CALLBACK, {
        email: colleague.email,
        password: TEST_PASSWORD,
      });
      expect(ok.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
    });

    it('throttles an unknown address exactly the same way', async () => {
      const stranger = unknownEmail();
      const browser = english();
      const page = await openPasswordStep(browser, authorizationUrl(t.issuer, client.client_id).url, stranger);
      for (let i = 1; i <= 5; i += 1) {
        const res = await submitForm(browser, page, '/password', { password: `guess-${i}` });
        expect([i, res.status, alertText(res.body)]).toEqual([i, 401, messageText('en', 'errors.LOGIN_FAILED')]);
      }
      const sixth = await submitForm(browser, page, '/password', { password: TEST_PASSWORD });
      expect(sixth.status).toBe(429);
      expect(alertText(sixth.body)).toBe(tooMany());
    });
  });

  describe('cookies and security headers', () => {
    it('marks every cookie of the login HttpOnly and SameSite=Lax', async () => {
      const user = await registerUser(t.app);
      const seen: string[] = [];
      const browser = english();
      const original = browser.request.bind(browser);
      browser.request = async (url, init) => {
        const res = await original(url, init);
        seen.push(...res.headers.getSetCookie());
        return res;
      };
      await browser.follow(`${t.issuer}/help?lang=en`);
      // A wrong password first, so the error path's cookies are seen too.
      const page = await openPasswordStep(browser, authorizationUrl(t.issuer, client.client_id).url, user.email);
      await submitForm(browser, page, '/password', { password: 'not-the-password' });
      const done = await loginThroughPages(browser, authorizationUrl(t.issuer, client.client_id).url, RP_CALLBACK, {
        email: user.email,
        password: TEST_PASSWORD,
      });
      expect(done.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));

      const names = new Set(seen.map((c) => c.split('=')[0]));
      for (const name of ['monban_csrf', 'monban_lang', 'monban_interaction', 'monban_resume', 'monban_session']) {
        expect(names).toContain(name);
      }
      for (const cookie of seen) {
        const attributes = cookie
          .split(';')
          .slice(1)
          .map((a) => a.trim().toLowerCase());
        expect([cookie, attributes.includes('httponly')]).toEqual([cookie, true]);
        expect([cookie, attributes.includes('samesite=lax')]).toEqual([cookie, true]);
      }
    });

    it('sends CSP with frame-ancestors, X-Frame-Options and nosniff on the login, error and help pages', async () => {
      const user = await registerUser(t.app);
      const browser = english();
      const emailPage = await browser.follow(authorizationUrl(t.issuer, client.client_id).url);
      const passwordPage = await openPasswordStep(
        browser,
        authorizationUrl(t.issuer, client.client_id).url,
        user.email,
      );
      const failed = await submitForm(browser, passwordPage, '/password', { password: 'not-the-password' });
      const expired = await english().request(`${t.issuer}/interaction/does-not-exist`);
      const oauthError = await english().request(`${t.issuer}/auth?client_id=unknown&response_type=code&scope=openid`);
      const help = await english().request(`${t.issuer}/help`);

      const pages = { emailPage, passwordPage, failed, expired, oauthError, help };
      for (const [name, page] of Object.entries(pages)) {
        expect([name, page.headers.get('content-type')]).toEqual([name, expect.stringContaining('text/html')]);
        const csp = page.headers.get('content-security-policy') ?? '';
        expect([name, csp]).toEqual([name, expect.stringContaining("default-src 'self'")]);
        expect([name, csp]).toEqual([name, expect.stringContaining("frame-ancestors 'none'")]);
        expect([name, csp]).toEqual([name, expect.stringContaining("object-src 'none'")]);
        expect([name, page.headers.get('x-frame-options')]).toEqual([
          name,
          expect.stringMatching(/^(DENY|SAMEORIGIN)$/),
        ]);
        expect([name, page.headers.get('x-content-type-options')]).toEqual([name, 'nosniff']);
      }
      // Pages holding a password or a CSRF token are never cached.
      for (const page of [emailPage, passwordPage, failed])
        expect(page.headers.get('cache-control')).toContain('no-store');
    });
  });

  describe('audit trail (X3)', () => {
    it('records failed and successful logins with account, client and IP, and never the password', async () => {
      const user = await registerUser(t.app);
      const stranger = unknownEmail();
      const wrong = `wrong-${randomBytes(4).toString('hex')}`;
      expect((await attempt(user.email, wrong)).status).toBe(401);
      expect((await attempt(stranger, wrong)).status).toBe(401);
      const done = await loginThroughPages(english(), authorizationUrl(t.issuer, client.client_id).url, RP_CALLBACK, {
        email: user.email,
        password: TEST_PASSWORD,
      });
      expect(done.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));

      const mine = await t.app.db
        .selectFrom('audit_events')
        .selectAll()
        .where('account_id', '=', user.id)
        .orderBy('id')
        .execute();
      expect(mine.map((e) => e.type)).toEqual(expect.arrayContaining(['login.failed', 'login.succeeded']));
      const failed = mine.find((e) => e.type === 'login.failed')!;
      const succeeded = mine.find((e) => e.type === 'login.succeeded')!;
      expect(mine.indexOf(failed)).toBeLessThan(mine.indexOf(succeeded));
      for (const event of [failed, succeeded]) {
        expect(event.client_id).toBe(client.client_id);
        expect(event.ip).toMatch(/127\.0\.0\.1|::1/);
        expect(event.at).toBeInstanceOf(Date);
      }

      // The unknown address is logged as a failure without an account, and without the address itself.
      const all = await t.app.db.selectFrom('audit_events').selectAll().execute();
      const anonymous = all.filter((e) => e.type === 'login.failed' && e.account_id === null);
      expect(anonymous.length).toBeGreaterThanOrEqual(1);
      const dump = JSON.stringify(all);
      expect(dump).not.toContain(wrong);
      expect(dump).not.toContain(TEST_PASSWORD);
      expect(dump).not.toContain(stranger);
    });
  });
});
