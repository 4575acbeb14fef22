import { newAccountId } from '../../../src/identity/accounts/account-id.js';
import { ENGLISH, isLoginPage, startAccountHarness, textOf, type AccountHarness } from '../../helpers/account.js';
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
  submitForm,
  unescapeHtml,
  type PageResponse,
  interactionUid,
} from '../../helpers/http-client.js';
import { newAddress, outboxFor, outboxSettled, pageShape } from '../../helpers/signup-pages.js';

// Issue 6, E1-E4 and L4/C5: "Forgot email address?" by account ID and password or by a possible
// address, from a waiting login or on its own, in both languages; and the help page.

const SUPPORT = { email: 'helpdesk@monban.test', url: 'https://support.monban.test/contact' };
const JAPANESE = { 'accept-language': 'ja' };
const WRONG_PASSWORD = 'Not-The-Password-1!';

/** The href of the link with `id`, unescaped. */
function linkHref(html: string, id: string): string | undefined {
  const tag = html.match(new RegExp(`<a\\b[^>]*\\bid="${id}"[^>]*>`))?.[0];
  const href = tag?.match(/href="([^"]*)"/)?.[1];
  return href === undefined ? undefined : unescapeHtml(href);
}

/** Opens "Forgot email address?" (with `query`, e.g. "?interaction=...") and submits what the user typed. */
async function lookUp(browser: HttpClient, issuer: string, identifier: string, query = ''): Promise<PageResponse> {
  const form = await browser.request(`${issuer}/forgot-email${query}`);
  if (form.status !== 200) throw new Error(`GET /forgot-email${query} answered ${form.status}`);
  return submitForm(browser, form, '/forgot-email', { identifier });
}

/** An account ID, then a password in the field that appears for it: the page that answers. */
async function lookUpById(
  browser: HttpClient,
  issuer: string,
  accountId: string,
  password: string,
  query = '',
): Promise<PageResponse> {
  const passwordForm = await lookUp(browser, issuer, accountId, query);
  if (!/name="password"/.test(passwordForm.body))
    throw new Error(`no password field for ${accountId} (${passwordForm.status})`);
  return submitForm(browser, passwordForm, '/forgot-email/password', { password });
}

const lookupMail = (locale: 'ja' | 'en') => (mail: { subject: string }) =>
  mail.subject === messageText(locale, 'emails.emailLookup.subject');

describe('forgot email address (E1-E4)', () => {
  let h: AccountHarness;
  let client: Awaited<ReturnType<typeof registerClient>>;

  beforeAll(async () => {
    // Every lookup here comes from 127.0.0.1: the per-IP counter must not get in the way (it has its own tests below).
    h = await startAccountHarness({
      support: SUPPORT,
      forgotEmail: {
        perIp: { points: 1000, durationSeconds: 3600 },
        perIdentifier: { points: 10, durationSeconds: 3600 },
      },
    });
    client = await registerClient(h.app);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('with the account ID and its password, shows the address and mails its owner, naming the account ID', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new HttpClient(ENGLISH);
    const passwordForm = await lookUp(browser, h.issuer, user.username);
    expect(passwordForm.status).toBe(200);
    expect(passwordForm.body).toContain(messageText('en', 'forgotEmail.passwordIntro'));
    expect(textOf(passwordForm.body, 'account-id')).toBe(user.username);

    const found = await submitForm(browser, passwordForm, '/forgot-email/password', { password: TEST_PASSWORD });
    expect(found.status).toBe(200);
    expect(found.body).toContain(messageText('en', 'forgotEmail.foundIntro'));
    expect(textOf(found.body, 'found-email')).toBe(user.email);
    expect(found.body).toContain(messageText('en', 'forgotEmail.foundMail'));

    const mail = await h.mail.waitFor(user.email, lookupMail('en'));
    expect(mail.text).toContain(messageText('en', 'emails.emailLookup.byAccountId', { accountId: user.username }));
    expect(mail.text).toContain(messageText('en', 'emails.emailLookup.notYouPassword'));
    expect(mail.text).toContain(`${h.issuer}/recovery`);
  });

  it.each([
    ['in lower case', (id: string) => id.toLowerCase()],
    ['grouped with hyphens', (id: string) => `${id.slice(0, 5)}-${id.slice(5)}`],
    [
      'grouped with spaces, in lower case, padded',
      (id: string) => ` ${id.slice(0, 2)} ${id.slice(2, 6)} ${id.slice(6)} `.toLowerCase(),
    ],
  ])('takes the account ID as read from paper: %s', async (_, typed) => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new HttpClient(ENGLISH);
    const passwordForm = await lookUp(browser, h.issuer, typed(user.username));
    expect(textOf(passwordForm.body, 'account-id')).toBe(user.username);
    const found = await submitForm(browser, passwordForm, '/forgot-email/password', { password: TEST_PASSWORD });
    expect(textOf(found.body, 'found-email')).toBe(user.email);
  });

  it('refuses a wrong password and an unknown account ID with the same page, and mails nobody', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const ids = { known: user.username, unknown: newAccountId() };
    const pages = { known: [] as PageResponse[], unknown: [] as PageResponse[] };
    for (const which of ['known', 'unknown'] as const) {
      const browser = new HttpClient(ENGLISH);
      const passwordForm = await lookUp(browser, h.issuer, ids[which]);
      const refused = await submitForm(browser, passwordForm, '/forgot-email/password', { password: WRONG_PASSWORD });
      pages[which] = [passwordForm, refused];
    }
    // Any ID gets the password field, and the same refusal: only the ID typed and the CSRF token differ.
    for (const step of [0, 1]) {
      expect(pageShape(pages.unknown[step]!.body, ids.unknown)).toBe(pageShape(pages.known[step]!.body, ids.known));
      expect(pages.unknown[step]!.status).toBe(pages.known[step]!.status);
    }
    const refused = pages.known[1]!;
    expect(refused.status).toBe(401);
    expect(alertText(refused.body)).toBe(messageText('en', 'errors.ACCOUNT_ID_OR_PASSWORD_WRONG'));
    expect(refused.body).toMatch(/name="password"/);
    expect(refused.body).not.toContain(user.email);

    await outboxSettled(h.app);
    expect(await outboxFor(h.app, user.email)).toEqual([]);
    expect(h.mail.mailsTo(user.email)).toEqual([]);
  });

  it('with an email address, mails it only if registered, and shows the same page either way', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const unknown = newAddress('nobody');
    const registeredPage = await lookUp(new HttpClient(ENGLISH), h.issuer, user.email);
    const unknownPage = await lookUp(new HttpClient(ENGLISH), h.issuer, unknown);

    for (const [page, email] of [
      [registeredPage, user.email],
      [unknownPage, unknown],
    ] as const) {
      expect(page.status).toBe(200);
      expect(unescapeHtml(textOf(page.body, 'checked-email')!)).toBe(
        messageText('en', 'forgotEmail.checked', { email }),
      );
    }
    expect(pageShape(unknownPage.body, unknown)).toBe(pageShape(registeredPage.body, user.email));

    const mail = await h.mail.waitFor(user.email, lookupMail('en'));
    expect(mail.text).toContain(messageText('en', 'emails.emailLookup.byEmail', { accountId: user.username }));
    await outboxSettled(h.app);
    expect(await outboxFor(h.app, unknown)).toEqual([]);
    expect(h.mail.mailsTo(unknown)).toEqual([]);
  });

  it("from a waiting login, puts the found address into that login's password step, and the login goes on", async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new HttpClient(ENGLISH);
    const emailStep = await browser.follow(authorizationUrl(h.issuer, client.client_id).url);
    expect(isLoginPage(emailStep)).toBe(true);
    const uid = interactionUid(emailStep);

    const form = await browser.request(new URL(linkHref(emailStep.body, 'forgot-email')!, h.issuer).toString());
    expect(form.status).toBe(200);
    expect(inputValue(form.body, 'interaction')).toBe(uid);
    const passwordForm = await submitForm(browser, form, '/forgot-email', { identifier: user.username });
    const found = await submitForm(browser, passwordForm, '/forgot-email/password', { password: TEST_PASSWORD });
    expect(textOf(found.body, 'found-email')).toBe(user.email);
    expect(linkHref(found.body, 'back-to-login')).toBe(`/interaction/${uid}/password`);

    const passwordStep = await browser.follow(new URL(linkHref(found.body, 'back-to-login')!, h.issuer).toString());
    expect(passwordStep.status).toBe(200);
    expect(textOf(passwordStep.body, 'login-email')).toBe(user.email);
    const submitted = await submitForm(browser, passwordStep, '/password', { password: TEST_PASSWORD });
    const next = await browser.follow(submitted.location!, RP_CALLBACK);
    const atRp = next.location?.startsWith(RP_CALLBACK)
      ? next
      : await browser.follow((await submitForm(browser, next, '/confirm', {})).location!, RP_CALLBACK);
    expect(atRp.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
  });

  it('an address looked up by email from a waiting login leads back to the email step, not past it', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new HttpClient(ENGLISH);
    const emailStep = await browser.follow(authorizationUrl(h.issuer, client.client_id).url);
    const uid = interactionUid(emailStep);
    const checked = await lookUp(browser, h.issuer, user.email, `?interaction=${uid}`);
    expect(linkHref(checked.body, 'back-to-login')).toBe(`/interaction/${uid}`);
    const back = await browser.follow(new URL(`/interaction/${uid}`, h.issuer).toString());
    expect(isLoginPage(back)).toBe(true);
  });

  describe('in Japanese', () => {
    it('shows the pages, the refusal and the mail of a Japanese account in Japanese', async () => {
      const user = await registerUser(h.app, { locale: 'ja' });
      const browser = new HttpClient(JAPANESE);
      const form = await browser.request(`${h.issuer}/forgot-email`);
      expect(form.body).toContain('<html lang="ja">');
      expect(form.body).toContain(`<h1>${messageText('ja', 'forgotEmail.heading')}</h1>`);
      expect(form.body).toContain(messageText('ja', 'forgotEmail.identifier'));
      expect(form.body).not.toContain(messageText('en', 'forgotEmail.heading'));

      const refused = await lookUpById(browser, h.issuer, user.username, WRONG_PASSWORD);
      expect(alertText(refused.body)).toBe(messageText('ja', 'errors.ACCOUNT_ID_OR_PASSWORD_WRONG'));
      const found = await submitForm(browser, refused, '/forgot-email/password', { password: TEST_PASSWORD });
      expect(found.body).toContain(messageText('ja', 'forgotEmail.foundIntro'));
      expect(textOf(found.body, 'found-email')).toBe(user.email);

      const mail = await h.mail.waitFor(user.email, lookupMail('ja'));
      expect(mail.text).toContain(messageText('ja', 'emails.emailLookup.byAccountId', { accountId: user.username }));

      const checked = await lookUp(browser, h.issuer, 'dareka@example.com');
      expect(unescapeHtml(textOf(checked.body, 'checked-email')!)).toBe(
        messageText('ja', 'forgotEmail.checked', { email: 'dareka@example.com' }),
      );
    });

    it('the globe links switch the language, keep the waiting login, and the choice holds through the form', async () => {
      const browser = new HttpClient(JAPANESE);
      const emailStep = await browser.follow(authorizationUrl(h.issuer, client.client_id).url);
      const uid = interactionUid(emailStep);
      const japanese = await browser.request(`${h.issuer}/forgot-email?interaction=${uid}`);
      expect(japanese.body).toContain('<html lang="ja">');

      const englishLink = unescapeHtml(japanese.body.match(/<a href="([^"]+)"[^>]*data-lang="en"/)![1]!);
      expect(new URL(englishLink, h.issuer).searchParams.get('interaction')).toBe(uid);
      const english = await browser.request(new URL(englishLink, h.issuer).toString());
      expect(english.body).toContain('<html lang="en">');
      expect(english.body).toContain(`<h1>${messageText('en', 'forgotEmail.heading')}</h1>`);
      expect(inputValue(english.body, 'interaction')).toBe(uid);

      const email = newAddress('nobody');
      const checked = await submitForm(browser, english, '/forgot-email', { identifier: email });
      expect(checked.body).toContain('<html lang="en">');
      expect(unescapeHtml(textOf(checked.body, 'checked-email')!)).toBe(
        messageText('en', 'forgotEmail.checked', { email }),
      );
    });

    it('follows the language of the waiting login (ui_locales=ja) in an English browser', async () => {
      const user = await registerUser(h.app, { locale: 'en' });
      const browser = new HttpClient(ENGLISH);
      const emailStep = await browser.follow(authorizationUrl(h.issuer, client.client_id, { ui_locales: 'ja' }).url);
      const form = await browser.request(new URL(linkHref(emailStep.body, 'forgot-email')!, h.issuer).toString());
      expect(form.body).toContain('<html lang="ja">');
      const found = await lookUpById(
        browser,
        h.issuer,
        user.username,
        TEST_PASSWORD,
        `?interaction=${inputValue(form.body, 'interaction')}`,
      );
      expect(found.body).toContain('<html lang="ja">');
      expect(found.body).toContain(messageText('ja', 'forgotEmail.foundIntro'));
      expect(found.body).toContain(messageText('ja', 'recovery.backToLogin'));
    });
  });

  describe('help page (L4, C5)', () => {
    it.each([
      ['en', ENGLISH],
      ['ja', JAPANESE],
    ] as const)(
      'is linked from the login page, with every section and the support contact (%s)',
      async (locale, headers) => {
        const browser = new HttpClient(headers);
        const emailStep = await browser.follow(authorizationUrl(h.issuer, client.client_id).url);
        expect(linkHref(emailStep.body, 'forgot-password')).toMatch(/^\/recovery\?interaction=/);
        const help = await browser.request(new URL(linkHref(emailStep.body, 'help')!, h.issuer).toString());
        expect(help.status).toBe(200);
        expect(help.body).toContain(`<html lang="${locale}">`);
        expect(help.body).toContain(`<h1>${messageText(locale, 'help.heading')}</h1>`);
        const sections = {
          login: 'help.loginHeading',
          password: 'help.passwordHeading',
          'forgot-email': 'help.emailHeading',
          trouble: 'help.troubleHeading',
          'change-email': 'help.changeHeading',
          support: 'help.supportHeading',
        };
        for (const [id, heading] of Object.entries(sections)) {
          expect(textOf(help.body, id)).toBe(messageText(locale, heading));
        }
        const { minLength: min, maxLength: max } = h.app.config.passwordPolicy;
        expect(help.body).toContain(messageText(locale, 'help.password4', { min, max }));
        expect(help.body).toContain(messageText(locale, 'help.change1'));
        expect(textOf(help.body, 'support-email')).toBe(SUPPORT.email);
        expect(linkHref(help.body, 'support-email')).toBe(`mailto:${SUPPORT.email}`);
        expect(linkHref(help.body, 'support-url')).toBe(SUPPORT.url);
        // The ways out of trouble are one click away.
        expect(help.body).toContain('href="/recovery"');
        expect(help.body).toContain('href="/forgot-email"');
      },
    );
  });
});

describe('forgot email address lookups are throttled', () => {
  let h: AccountHarness;
  const limits = { perIp: { points: 4, durationSeconds: 3600 }, perIdentifier: { points: 3, durationSeconds: 3600 } };
  // Behind a proxy, as in production: X-Forwarded-For tells the client's IP, so each test plays its own IPs.
  let ipCounter = 0;
  const browserFrom = (ip = `198.51.100.${(ipCounter += 1)}`) => new HttpClient({ ...ENGLISH, 'x-forwarded-for': ip });
  const tooMany = messageText('en', 'errors.TOO_MANY_ATTEMPTS', { minutes: 60 });

  beforeAll(async () => {
    h = await startAccountHarness({ trustProxy: true, forgotEmail: limits });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('per account ID: after the limit, from anywhere, even the right password is refused and nothing is shown or mailed', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    for (let i = 0; i < limits.perIdentifier.points; i += 1) {
      expect((await lookUpById(browserFrom(), h.issuer, user.username, WRONG_PASSWORD)).status).toBe(401);
    }
    const browser = browserFrom();
    const refused = await lookUpById(browser, h.issuer, user.username, TEST_PASSWORD);
    expect(refused.status).toBe(429);
    expect(alertText(refused.body)).toBe(tooMany);
    expect(refused.body).not.toContain(user.email);
    // The same browser can still look up another account: the counter is the ID's.
    const other = await registerUser(h.app, { locale: 'en' });
    expect(textOf((await lookUpById(browser, h.issuer, other.username, TEST_PASSWORD)).body, 'found-email')).toBe(
      other.email,
    );

    await outboxSettled(h.app);
    expect(h.mail.mailsTo(user.email)).toEqual([]);
  });

  it('per address: asking about the same address counts too, and past the limit no more mail goes out', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    for (let i = 0; i < limits.perIdentifier.points; i += 1) {
      expect((await lookUp(browserFrom(), h.issuer, user.email)).status).toBe(200);
    }
    const refused = await lookUp(browserFrom(), h.issuer, user.email);
    expect(refused.status).toBe(429);
    expect(alertText(refused.body)).toBe(tooMany);
    await outboxSettled(h.app);
    expect((await outboxFor(h.app, user.email)).length).toBe(limits.perIdentifier.points);
  });

  it('per IP: after the limit, any lookup from that IP is refused, while another IP goes on', async () => {
    const ip = '203.0.113.7';
    for (let i = 0; i < limits.perIp.points; i += 1) {
      expect((await lookUp(browserFrom(ip), h.issuer, newAddress('nobody'))).status).toBe(200);
    }
    const byAddress = await lookUp(browserFrom(ip), h.issuer, newAddress('nobody'));
    expect(byAddress.status).toBe(429);
    expect(alertText(byAddress.body)).toBe(tooMany);
    const byId = await lookUpById(browserFrom(ip), h.issuer, newAccountId(), WRONG_PASSWORD);
    expect(byId.status).toBe(429);
    expect(alertText(byId.body)).toBe(tooMany);
    expect((await lookUp(browserFrom(), h.issuer, newAddress('nobody'))).status).toBe(200);
  });
});
