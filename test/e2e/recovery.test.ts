/**
 * End to end "forgot password" (R1-R5) and "forgot email address" (E1-E4) in a real Chromium,
 * against the app on PostgreSQL and Redis, with openid-client as the relying party and a real
 * SMTP server on loopback:
 * - an RP login where the user forgets the password at the password step: the address is filled
 *   in, the code comes by mail, the live checklist ticks every rule for the new password, and the
 *   user is back at the same login's password step with a notice, logs in and reaches the RP;
 *   the old password is refused afterwards;
 * - an RP login where the user forgets the address: the account ID (typed in lower case) and the
 *   password show it, a confirmation mail goes to it, and "Back to login" continues the login;
 * - the reset pages in Japanese through the globe menu.
 * Texts come from views/locales (messageText).
 */
import type { Browser, Page } from 'playwright-core';
import { NEW_PASSWORD, startAccountHarness, type AccountHarness } from '../helpers/account.js';
import {
  startWithBrowser,
  readChecklist,
  RpBrowser,
  RULES,
  type ChecklistItem,
  type ElementLike,
  waitForInteractionAddress,
} from '../helpers/browser.js';
import { en, ja, registerClient, registerUser, RP_CALLBACK, TEST_PASSWORD } from '../helpers/fixtures.js';
import { RelyingParty, type PendingAuthorization } from '../helpers/rp.js';
import { codeIn } from '../helpers/smtp.js';

const RP_ORIGIN = new URL(RP_CALLBACK).origin;
const JOURNEY_TIMEOUT_MS = 120_000;
const SETUP_TIMEOUT_MS = 120_000;
/** What a met rule looks like (public/monban.css: `.checklist li.met`). */
const MET_MARK = '"✓"';
const MET_COLOR = 'rgb(30, 122, 52)';

type User = Awaited<ReturnType<typeof registerUser>>;

/** The interaction's uid from a page under /interaction/<uid>. */
function uidOf(page: Page): string {
  const uid = new URL(page.url()).pathname.split('/')[2];
  if (!uid) throw new Error(`not a login page: ${page.url()}`);
  return uid;
}

/** The RP sends the browser to the login; the email step shows. Returns the request and the uid. */
async function startRpLogin(b: RpBrowser, rp: RelyingParty): Promise<{ pending: PendingAuthorization; uid: string }> {
  const pending = await rp.authorizationRequest({ redirect_uri: RP_CALLBACK, scope: 'openid email', ui_locales: 'en' });
  await b.page.goto(pending.url.href);
  await b.page.locator('form[action$="/email"] #email').waitFor();
  await waitForInteractionAddress(b.page);
  expect(await b.heading()).toBe(en('login.heading'));
  return { pending, uid: uidOf(b.page) };
}

/** On the email step: the address, Next; the password step shows it. */
async function enterEmail(b: RpBrowser, uid: string, email: string): Promise<void> {
  const { page } = b;
  await page.locator('#email').fill(email);
  await page.locator('form[action$="/email"] button[type=submit]').click();
  await page.waitForURL((url) => url.pathname === `/interaction/${uid}/password`);
  await page.locator('#password').waitFor();
  expect(await page.locator('#login-email').innerText()).toBe(email);
}

/** On the password step: the password, Log in. */
async function submitLoginPassword(b: RpBrowser, password: string): Promise<void> {
  await b.page.locator('form[action$="/password"] #password').fill(password);
  await b.page.locator('form[action$="/password"] button[type=submit]').click();
}

/** The consent page if this client has not been allowed yet (Allow is pressed), then the RP. */
async function arriveAtRp(b: RpBrowser): Promise<URL> {
  const { page } = b;
  const allow = page.getByRole('button', { name: en('consent.allow'), exact: true });
  const atRp = page.getByRole('heading', { name: 'Test RP', exact: true });
  await allow.or(atRp).waitFor({ timeout: 20_000 });
  if (await allow.isVisible()) {
    expect(await b.heading()).toBe(en('consent.heading', { client: 'Test RP' }));
    await allow.click();
  }
  return b.waitForRp(RP_CALLBACK, 20_000);
}

/** The RP's view: the callback is right and the code redeems for an ID token of `user`. */
async function expectRpLogin(
  rp: RelyingParty,
  callback: URL,
  pending: PendingAuthorization,
  issuer: string,
  user: User,
): Promise<void> {
  expect(`${callback.origin}${callback.pathname}`).toBe(RP_CALLBACK);
  expect(callback.searchParams.get('error')).toBeNull();
  expect(callback.searchParams.get('state')).toBe(pending.state);
  expect(callback.searchParams.get('iss')).toBe(issuer);
  const tokens = await rp.redeem(callback, pending);
  const claims = tokens.claims()!;
  expect(claims.iss).toBe(issuer);
  expect(claims.sub).toBe(user.id);
  expect(claims.nonce).toBe(pending.nonce);
  expect(claims.email).toBe(user.email);
  expect(claims.amr).toEqual(['pwd']);
}

type ComputedStyleOf = (element: unknown, pseudo?: string) => { content: string; color: string; display: string };

/** The checklist as the user sees it: each rule the page ticks, with the mark and colour it shows for it. */
function seenChecklist(page: Page) {
  return page.locator('#password-checklist li[data-rule]:not([data-checked-by])').evaluateAll((items: ElementLike[]) =>
    items.map((li) => {
      // In the page: the window's getComputedStyle (the tests compile without the DOM library).
      const getComputedStyle = (globalThis as unknown as { getComputedStyle: ComputedStyleOf }).getComputedStyle;
      const style = getComputedStyle(li);
      return {
        rule: li.getAttribute('data-rule') ?? '',
        mark: getComputedStyle(li, '::before').content,
        color: style.color,
        shown: style.display !== 'none',
      };
    }),
  );
}

/** Waits (briefly, for the input handler) until every rule is met, then asserts it. */
async function expectAllMet(page: Page): Promise<void> {
  const allMet = (items: ChecklistItem[]) =>
    items.length > 0 && items.every((item) => item.classMet && item.dataMet === 'true');
  const deadline = Date.now() + 2_000;
  let items = await readChecklist(page);
  while (!allMet(items) && Date.now() < deadline) {
    await page.waitForTimeout(50);
    items = await readChecklist(page);
  }
  expect(items.map((item) => ({ rule: item.rule, met: item.classMet, dataMet: item.dataMet }))).toEqual(
    RULES.map((rule) => ({ rule, met: true, dataMet: 'true' })),
  );
  expect(await seenChecklist(page)).toEqual(
    RULES.map((rule) => ({ rule, mark: MET_MARK, color: MET_COLOR, shown: true })),
  );
}

describe('forgot password and forgot email address end to end in a real browser (R1-R5, E1-E4)', () => {
  let h: AccountHarness;
  let browser: Browser;
  let rp: RelyingParty;

  beforeAll(async () => {
    [h, browser] = await startWithBrowser(startAccountHarness());
    const registered = await registerClient(h.app);
    rp = await RelyingParty.discover(h.issuer, registered.client_id, registered.client_secret!);
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.allSettled([browser?.close(), h?.close()]);
  }, SETUP_TIMEOUT_MS);

  it(
    'resets a forgotten password by email during an RP login and continues to the RP with the new one',
    async () => {
      const user = await registerUser(h.app, { locale: 'en' });
      const b = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: 'en-US' });
      const { page } = b;
      try {
        // 1. The RP's login: the address, then "Forgot password?" on the password step.
        const { pending, uid } = await startRpLogin(b, rp);
        await enterEmail(b, uid, user.email);
        const forgot = page.locator('#forgot-password');
        expect(await forgot.innerText()).toBe(en('login.forgotPassword'));
        await forgot.click();

        // 2. The start page, the address already filled in.
        await page.waitForURL((url) => url.pathname === `/interaction/${uid}/forgot-password`);
        await page.locator('#recovery-start').waitFor();
        expect(await b.heading()).toBe(en('recovery.heading'));
        expect(await page.title()).toBe(`${en('recovery.title')} · Monban`);
        expect(await page.locator('#recovery-start #email').inputValue()).toBe(user.email);
        await page.locator('#recovery-start button[type=submit]').click();

        // 3. The method: by email (the default).
        await page.waitForURL((url) => url.pathname === '/recovery/method');
        await page.locator('#recovery-method').waitFor();
        expect(await b.heading()).toBe(en('recovery.methodHeading'));
        expect(await page.locator('#recovery-email').innerText()).toBe(user.email);
        expect(await page.locator('#channel-email').isChecked()).toBe(true);
        expect(await page.locator('label:has(#channel-email)').innerText()).toBe(en('recovery.byEmail'));
        await page.locator('#channel-email').check();
        await page.locator('#send-code').click();

        // 4. The code page; the code comes by mail.
        await page.waitForURL((url) => url.pathname === '/recovery/code');
        await page.locator('#recovery-code #code').waitFor();
        expect(await b.heading()).toBe(en('recovery.codeHeading'));
        expect(await page.locator('#code-sent-to').innerText()).toBe(
          en('recovery.codeSentEmail', { email: user.email }),
        );
        expect(await page.locator('#resend').isVisible()).toBe(true);
        const mail = await h.mail.waitFor(user.email, (m) => m.subject === en('emails.recoveryCode.subject'));
        const code = codeIn(mail);
        await page.locator('#code').fill(code);
        await page.locator('#recovery-code button[type=submit]').click();

        // 5. The new password, twice; the checklist ticks every rule.
        await page.waitForURL((url) => url.pathname === '/recovery/password');
        await page.locator('#recovery-password').waitFor();
        expect(await b.heading()).toBe(en('recovery.passwordHeading'));
        expect(await page.locator('#recovery-email').innerText()).toBe(user.email);
        const before = await readChecklist(page);
        expect(before.map((item) => item.rule)).toEqual(RULES);
        expect(before.every((item) => !item.classMet && item.dataMet === 'false')).toBe(true);
        await page.locator('#password').pressSequentially(NEW_PASSWORD);
        await page.locator('#password_confirmation').pressSequentially(NEW_PASSWORD);
        await expectAllMet(page);
        expect(await page.locator('#reset-password').innerText()).toBe(en('recovery.setPassword'));
        await page.locator('#reset-password').click();

        // 6. Back at the same login's password step: the notice, the address, an empty password.
        await page.waitForURL(
          (url) => url.pathname === `/interaction/${uid}/password` && url.searchParams.get('reset') === '1',
        );
        await page.locator('form[action$="/password"] #password').waitFor();
        expect(await b.heading()).toBe(en('login.heading'));
        expect(await page.locator('p.notice[role=status]').innerText()).toBe(en('recovery.doneNotice'));
        expect(await page.locator('#login-email').innerText()).toBe(user.email);
        expect(await page.locator('#password').inputValue()).toBe('');
        expect(b.rpVisits).toEqual([]);

        // 7. The new password logs in; the RP gets an ID token for the account.
        await submitLoginPassword(b, NEW_PASSWORD);
        const callback = await arriveAtRp(b);
        await expectRpLogin(rp, callback, pending, h.issuer, user);
        expect(b.rpVisits).toHaveLength(1);
        expect(b.pageErrors).toEqual([]);
      } finally {
        await b.close();
      }

      // 8. The old password no longer works (a fresh browser, a new login).
      const b2 = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: 'en-US' });
      try {
        const { uid } = await startRpLogin(b2, rp);
        await enterEmail(b2, uid, user.email);
        await submitLoginPassword(b2, TEST_PASSWORD);
        const error = b2.page.locator('#form-error[role=alert]');
        await error.waitFor();
        expect(await error.innerText()).toBe(en('errors.LOGIN_FAILED'));
        expect(b2.rpVisits).toEqual([]);
      } finally {
        await b2.close();
      }
    },
    JOURNEY_TIMEOUT_MS,
  );

  it(
    'shows a forgotten address for the account ID and password, mails a confirmation and continues the login',
    async () => {
      const user = await registerUser(h.app, { locale: 'en' });
      expect(user.username).toMatch(/^[0-9A-Z]{10}$/);
      const b = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: 'en-US' });
      const { page } = b;
      try {
        // 1. "Forgot email address?" on the RP login's email step.
        const { pending, uid } = await startRpLogin(b, rp);
        const forgot = page.locator('#forgot-email');
        expect(await forgot.innerText()).toBe(en('login.forgotEmail'));
        await forgot.click();
        await page.waitForURL((url) => url.pathname === '/forgot-email' && url.searchParams.get('interaction') === uid);
        await page.locator('#forgot-email-form').waitFor();
        expect(await b.heading()).toBe(en('forgotEmail.heading'));
        expect(await page.locator('label[for=identifier]').innerText()).toBe(en('forgotEmail.identifier'));

        // 2. The account ID as someone might type it: in lower case. The password field appears.
        await page.locator('#identifier').fill(user.username.toLowerCase());
        await page.locator('#forgot-email-form button[type=submit]').click();
        await page.locator('#forgot-email-password #password').waitFor();
        expect(await page.locator('#account-id').innerText()).toBe(user.username);
        expect(await page.locator('main p').first().innerText()).toBe(en('forgotEmail.passwordIntro'));
        await page.locator('#password').fill(TEST_PASSWORD);
        await page.locator('#forgot-email-password button[type=submit]').click();

        // 3. The full address, and a confirmation mail to it.
        await page.locator('#found-email').waitFor();
        expect(await page.locator('#found-email').innerText()).toBe(user.email);
        expect(await page.getByText(en('forgotEmail.foundMail'), { exact: true }).isVisible()).toBe(true);
        const mail = await h.mail.waitFor(user.email, (m) => m.subject === en('emails.emailLookup.subject'));
        expect(mail.text).toContain(en('emails.emailLookup.byAccountId', { accountId: user.username }));

        // 4. "Back to login": the password step with the address; the login goes on to the RP.
        const back = page.locator('#back-to-login');
        expect(await back.innerText()).toBe(en('recovery.backToLogin'));
        await back.click();
        await page.waitForURL((url) => url.pathname === `/interaction/${uid}/password`);
        await page.locator('form[action$="/password"] #password').waitFor();
        expect(await b.heading()).toBe(en('login.heading'));
        expect(await page.locator('#login-email').innerText()).toBe(user.email);
        await submitLoginPassword(b, TEST_PASSWORD);
        const callback = await arriveAtRp(b);
        await expectRpLogin(rp, callback, pending, h.issuer, user);
        expect(b.rpVisits).toHaveLength(1);
        expect(b.pageErrors).toEqual([]);
      } finally {
        await b.close();
      }
    },
    JOURNEY_TIMEOUT_MS,
  );

  it(
    'shows the reset pages in Japanese when the globe menu picks it',
    async () => {
      const user = await registerUser(h.app, { locale: 'en' });
      const b = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: 'en-US' });
      const { page } = b;
      try {
        const { uid } = await startRpLogin(b, rp);
        await page.locator('#forgot-password').click();
        await page.waitForURL((url) => url.pathname === '/recovery' && url.searchParams.get('interaction') === uid);
        await page.locator('#recovery-start').waitFor();
        expect(await b.htmlLang()).toBe('en');
        expect(await b.heading()).toBe(en('recovery.heading'));

        // The globe menu: Japanese, on the same page of the same login.
        await page.locator('a[data-lang=ja]').click();
        await page.waitForURL((url) => url.pathname === '/recovery' && url.searchParams.get('lang') === 'ja');
        await page.locator('#recovery-start').waitFor();
        expect(await b.htmlLang()).toBe('ja');
        expect(await b.heading()).toBe(ja('recovery.heading'));
        expect(await page.title()).toBe(`${ja('recovery.title')} · Monban`);
        expect(await page.locator('label[for=email]').innerText()).toBe(ja('login.email'));
        expect(await page.locator('#back-to-login').innerText()).toBe(ja('recovery.backToLogin'));

        // The next page stays in Japanese.
        await page.locator('#email').fill(user.email);
        await page.locator('#recovery-start button[type=submit]').click();
        await page.waitForURL((url) => url.pathname === '/recovery/method');
        await page.locator('#recovery-method').waitFor();
        expect(await b.htmlLang()).toBe('ja');
        expect(await b.heading()).toBe(ja('recovery.methodHeading'));
        expect(await page.locator('#send-code').innerText()).toBe(ja('recovery.sendCode'));
        expect(b.pageErrors).toEqual([]);
      } finally {
        await b.close();
      }
    },
    JOURNEY_TIMEOUT_MS,
  );
});
