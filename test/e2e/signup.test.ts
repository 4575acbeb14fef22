/**
 * End to end sign-up (C1-C3) in a real Chromium, with openid-client as the relying party and a
 * real SMTP server on loopback: an RP starts a login, the user creates an account from the email
 * step, watches the live password checklist tick while typing, activates the account with the
 * code from the mail (after asking for a new one: the old code must then fail), lands back at
 * the password step of the same login, logs in, consents, and the RP gets a validated ID token
 * with the verified address. Once per language; the browser prefers the other language, so only
 * the RP's ui_locales can make the pages (and the mail) speak it.
 */
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../helpers/app.js';
import {
  startWithBrowser,
  readChecklist,
  RpBrowser,
  RULES,
  type ChecklistItem,
  type Rule,
  waitForInteractionAddress,
} from '../helpers/browser.js';
import { registerClient, RP_CALLBACK } from '../helpers/fixtures.js';
import { RelyingParty } from '../helpers/rp.js';
import { codeIn, MailCatcher, type CaughtMail } from '../helpers/smtp.js';

const RP_ORIGIN = new URL(RP_CALLBACK).origin;
const ACR_PWD = 'urn:monban:acr:pwd';
const JOURNEY_TIMEOUT_MS = 120_000;
const SCREENSHOT = '/tmp/signup-form.png';

type Lang = 'ja' | 'en';

/** What the pages and mails must say, written out here (not read from views/locales) so a broken translation fails. */
interface Texts {
  createAccount: string;
  signupTitle: string;
  signupHeading: string;
  email: string;
  password: string;
  passwordAgain: string;
  givenName: string;
  familyName: string;
  country: string;
  japan: string;
  partner: string;
  register: string;
  checklist: Record<Rule, string>;
  verifyTitle: string;
  verifyHeading: string;
  verifyIntro: (email: string) => string;
  code: string;
  activate: string;
  resend: string;
  resent: string;
  wrongCode: (attempts: number) => string;
  mailSubject: string;
  mailGreeting: string;
  loginHeading: string;
  loginPassword: string;
  loginSubmit: string;
  activatedNotice: string;
  allow: string;
}

const TEXTS: Record<Lang, Texts> = {
  ja: {
    createAccount: 'アカウントを作成',
    signupTitle: 'アカウント作成 · Monban',
    signupHeading: 'アカウントを作成',
    email: 'E メールアドレス',
    password: 'パスワード',
    passwordAgain: 'パスワード(確認)',
    givenName: '名',
    familyName: '姓',
    country: '国または地域',
    japan: '日本',
    partner: 'パートナーです',
    register: '登録',
    checklist: {
      length: '12 から 60 文字',
      lower: '小文字の英字',
      upper: '大文字の英字',
      digit: '半角数字',
      symbol: '記号',
      email: 'E メールアドレスの一部を含まない',
      match: '2 つの入力が一致',
    },
    verifyTitle: 'アカウントの有効化 · Monban',
    verifyHeading: 'アクティベーションコードを入力',
    verifyIntro: (email) => `${email} にアクティベーションコードを記載した E メールを送信しました。`,
    code: 'アクティベーションコード',
    activate: 'アカウントを有効化',
    resend: '新しいコードを送信',
    resent: '新しいコードを送信しました。以前のコードは使用できません。',
    wrongCode: (n) => `コードが正しくありません。残り ${n} 回入力できます。`,
    mailSubject: 'Monban アクティベーションコード',
    mailGreeting: 'Monban をご利用いただきありがとうございます。',
    loginHeading: 'ログイン',
    loginPassword: 'パスワード',
    loginSubmit: 'ログイン',
    activatedNotice: 'アカウントが有効になりました。パスワードでログインしてください。',
    allow: '許可',
  },
  en: {
    createAccount: 'Create account',
    signupTitle: 'Create account · Monban',
    signupHeading: 'Create your account',
    email: 'Email address',
    password: 'Password',
    passwordAgain: 'Password (again)',
    givenName: 'Given name',
    familyName: 'Family name',
    country: 'Country or region',
    japan: 'Japan',
    partner: 'I am a partner',
    register: 'Register',
    checklist: {
      length: '12 to 60 characters',
      lower: 'A lower-case letter',
      upper: 'An upper-case letter',
      digit: 'A digit',
      symbol: 'A symbol',
      email: 'No part of your email address',
      match: 'Both entries match',
    },
    verifyTitle: 'Activate your account · Monban',
    verifyHeading: 'Enter your activation code',
    verifyIntro: (email) => `We sent an email with an activation code to ${email}.`,
    code: 'Activation code',
    activate: 'Activate account',
    resend: 'Send a new code',
    resent: 'We sent a new code. Earlier codes no longer work.',
    wrongCode: (n) => `That code is not right. ${n} tries left.`,
    mailSubject: 'Your Monban activation code',
    mailGreeting: 'Hello,',
    loginHeading: 'Log in',
    loginPassword: 'Password',
    loginSubmit: 'Log in',
    activatedNotice: 'Your account is active. Log in with your password.',
    allow: 'Allow',
  },
};

/** Whether every rule shows data-met and the `met` class as `expected` says. */
function matches(items: ChecklistItem[], expected: Record<string, boolean>): boolean {
  return (
    items.length > 0 &&
    items.every(
      (item) =>
        item.dataMet === String(expected[item.rule] === true) && item.classMet === (expected[item.rule] === true),
    )
  );
}

/**
 * Asserts that exactly the rules in `met` are ticked (both data-met="true" and the `met` class)
 * and every other rule shows data-met="false". Gives the page's input handler a moment first.
 */
async function expectMet(page: Page, met: readonly Rule[], after: string): Promise<void> {
  const expected = Object.fromEntries(RULES.map((rule) => [rule, met.includes(rule)]));
  const deadline = Date.now() + 2_000;
  let items = await readChecklist(page);
  while (!matches(items, expected) && Date.now() < deadline) {
    await page.waitForTimeout(50);
    items = await readChecklist(page);
  }
  const seen = Object.fromEntries(items.map((item) => [item.rule, item.dataMet === 'true' && item.classMet]));
  expect({ after, met: seen }).toEqual({ after, met: expected });
  for (const item of items) {
    expect({ rule: item.rule, dataMet: item.dataMet }).toEqual({ rule: item.rule, dataMet: String(item.classMet) });
  }
}

/** Types `text` one key at a time into `input`, checking the checklist after each character. */
async function typeAndExpect(
  page: Page,
  input: ReturnType<Page['locator']>,
  steps: [string, readonly Rule[]][],
): Promise<void> {
  for (const [chars, met] of steps) {
    await input.pressSequentially(chars);
    await expectMet(page, met, `typing ${JSON.stringify(chars)} (now ${JSON.stringify(await input.inputValue())})`);
  }
}

function unique(): string {
  return randomBytes(4).toString('hex');
}

describe('sign-up end to end in a real browser (C1-C3)', () => {
  let t: TestApp;
  let browser: Browser;
  const catcher = new MailCatcher();

  beforeAll(async () => {
    await catcher.start();
    [t, browser] = await startWithBrowser(
      startTestApp({ overrides: { mail: { smtpUrl: catcher.url, from: 'Monban <no-reply@monban.test>' } } }),
    );
  }, JOURNEY_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.allSettled([browser?.close(), t?.close()]);
    await catcher.stop();
  }, JOURNEY_TIMEOUT_MS);

  describe.each<Lang>(['ja', 'en'])('ui_locales=%s', (lang) => {
    const tx = TEXTS[lang];

    it(
      'creates an account from the login page, activates it by mail and logs in at the RP',
      async () => {
        const registered = await registerClient(t.app);
        const rp = await RelyingParty.discover(t.issuer, registered.client_id, registered.client_secret!);
        const b = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: lang === 'ja' ? 'en-US' : 'ja-JP' });
        const { page } = b;
        // The local part splits into "aiko", "tanaka" and the random piece (PW6).
        const suffix = unique();
        const email = `aiko.tanaka.${suffix}@example.org`;
        const password = 'aB3!kumoSora';
        try {
          // 1. The RP sends the browser to the login page; the user chooses "Create account".
          const auth = await rp.authorizationRequest({
            redirect_uri: RP_CALLBACK,
            scope: 'openid email profile',
            prompt: 'consent',
            ui_locales: lang,
          });
          await page.goto(auth.url.href);
          const create = page.getByRole('link', { name: tx.createAccount, exact: true });
          await create.waitFor();
          // The authorization request answered with the email step; its address is the step's own.
          await waitForInteractionAddress(page);
          const uid = new URL(page.url()).pathname.split('/')[2]!;
          expect(page.url()).toBe(`${t.issuer}/interaction/${uid}`);
          await create.click();

          // 2. The sign-up form, in the RP's language, tied to the login.
          const passwordInput = page.getByLabel(tx.password, { exact: true });
          await passwordInput.waitFor();
          expect(new URL(page.url()).pathname).toBe('/signup');
          expect(new URL(page.url()).searchParams.get('interaction')).toBe(uid);
          expect(await b.htmlLang()).toBe(lang);
          expect(await page.title()).toBe(tx.signupTitle);
          expect(await b.heading()).toBe(tx.signupHeading);
          expect(await page.locator('input[type=hidden][name=interaction]').inputValue()).toBe(uid);

          const checklist = await readChecklist(page);
          expect(checklist.map((item) => item.rule)).toEqual(RULES);
          expect(checklist.map((item) => item.text)).toEqual(RULES.map((rule) => tx.checklist[rule]));
          // The script has run: every rule says so, and nothing is met on an empty form.
          await expectMet(page, [], 'loading the page');

          const emailInput = page.getByLabel(tx.email, { exact: true });
          const confirmation = page.getByLabel(tx.passwordAgain, { exact: true });
          expect(await passwordInput.getAttribute('type')).toBe('password');
          expect(await confirmation.getAttribute('type')).toBe('password');
          await emailInput.fill(email);
          await expectMet(page, [], 'filling in the email address');

          // 3. The live checklist ticks as the password grows.
          await typeAndExpect(page, passwordInput, [
            ['a', ['lower', 'email']],
            ['B', ['lower', 'upper', 'email']],
            ['3', ['lower', 'upper', 'digit', 'email']],
            ['!', ['lower', 'upper', 'digit', 'symbol', 'email']],
            ['kumoSor', ['lower', 'upper', 'digit', 'symbol', 'email']], // 11 characters
            ['a', ['length', 'lower', 'upper', 'digit', 'symbol', 'email']], // 12
            // A piece of the local part ("tanaka", any case) un-ticks the email rule...
            ['Tana', ['length', 'lower', 'upper', 'digit', 'symbol', 'email']],
            ['ka', ['length', 'lower', 'upper', 'digit', 'symbol']],
          ]);
          // ...and taking it out ticks it again.
          for (let i = 0; i < 'Tanaka'.length; i += 1) await passwordInput.press('Backspace');
          expect(await passwordInput.inputValue()).toBe(password);
          await expectMet(page, ['length', 'lower', 'upper', 'digit', 'symbol', 'email'], 'deleting "Tanaka"');
          // The random piece of the address counts as well, and so does changing the address.
          await passwordInput.pressSequentially(suffix.slice(0, 3));
          await expectMet(
            page,
            ['length', 'lower', 'upper', 'digit', 'symbol', 'email'],
            `typing ${suffix.slice(0, 3)} (shorter than the piece)`,
          );
          await emailInput.fill(`aiko.tanaka.${suffix.slice(0, 3)}@example.org`);
          await expectMet(
            page,
            ['length', 'lower', 'upper', 'digit', 'symbol'],
            'changing the address to contain that piece',
          );
          await emailInput.fill(email);
          await passwordInput.fill(password);
          await expectMet(
            page,
            ['length', 'lower', 'upper', 'digit', 'symbol', 'email'],
            'restoring address and password',
          );

          // 4. The confirmation: "match" ticks only when both entries are equal.
          const all: Rule[] = ['length', 'lower', 'upper', 'digit', 'symbol', 'email', 'match'];
          const allButMatch = all.filter((rule) => rule !== 'match');
          await typeAndExpect(page, confirmation, [
            [password.slice(0, -1), allButMatch],
            [password.slice(-1), all],
            ['x', allButMatch],
          ]);
          await confirmation.press('Backspace');
          await expectMet(page, all, 'deleting the extra character of the confirmation');
          await passwordInput.press('End');
          await passwordInput.pressSequentially('Z');
          await expectMet(page, allButMatch, 'changing the first entry after the confirmation');
          await passwordInput.press('Backspace');
          await expectMet(page, all, 'both entries equal again');

          // 5. The rest of the form.
          await page.getByLabel(tx.givenName, { exact: true }).fill('Aiko');
          await page.getByLabel(tx.familyName, { exact: true }).fill('Tanaka');
          const country = page.getByLabel(tx.country, { exact: true });
          await country.selectOption({ label: tx.japan });
          expect(await country.inputValue()).toBe('JP');
          const partner = page.getByRole('checkbox', { name: tx.partner, exact: true });
          expect(await partner.isChecked()).toBe(false);

          await page.screenshot({
            path: lang === 'en' ? SCREENSHOT : SCREENSHOT.replace('.png', `-${lang}.png`),
            fullPage: true,
          });

          // 6. Register: the activation-code page, and a mail in the same language.
          await page.getByRole('button', { name: tx.register, exact: true }).click();
          const codeInput = page.getByLabel(tx.code, { exact: true });
          await codeInput.waitFor();
          expect(new URL(page.url()).pathname).toBe('/signup/verify');
          expect(await b.htmlLang()).toBe(lang);
          expect(await page.title()).toBe(tx.verifyTitle);
          expect(await b.heading()).toBe(tx.verifyHeading);
          expect(await page.locator('main p').first().innerText()).toBe(tx.verifyIntro(email));

          const first = await catcher.waitFor(email);
          const firstCode = codeIn(first);
          expect(firstCode).toMatch(/^\d{6}$/);
          expect(first.subject).toBe(tx.mailSubject);
          // The address is not verified yet: no name typed on the form goes into the mail.
          expect(first.text.startsWith(tx.mailGreeting)).toBe(true);
          expect(first.text).not.toContain('Aiko');
          expect(first.html).toContain(firstCode);
          expect(first.raw.from?.value).toEqual([{ name: 'Monban', address: 'no-reply@monban.test' }]);

          // 7. "Send a new code": a second mail; the first code no longer works.
          await page.getByRole('button', { name: tx.resend, exact: true }).click();
          await page.waitForURL((url) => url.pathname === '/signup/verify' && url.searchParams.has('sent'));
          expect(await page.getByRole('status').innerText()).toBe(tx.resent);
          expect(await b.htmlLang()).toBe(lang);
          const second = await catcher.waitFor(email, (mail: CaughtMail) => mail !== first);
          const secondCode = codeIn(second);
          expect(second.subject).toBe(tx.mailSubject);
          expect(secondCode).not.toBe(firstCode);
          expect(catcher.mailsTo(email)).toHaveLength(2);

          await codeInput.fill(firstCode);
          await page.getByRole('button', { name: tx.activate, exact: true }).click();
          const error = page.locator('#form-error');
          await error.waitFor();
          expect(await error.innerText()).toBe(tx.wrongCode(4));
          expect(await b.htmlLang()).toBe(lang);
          expect(await codeInput.getAttribute('aria-invalid')).toBe('true');
          const pending = await t.app.db
            .selectFrom('accounts')
            .selectAll()
            .where('email', '=', email)
            .executeTakeFirstOrThrow();
          expect(pending).toMatchObject({ status: 'pending', email_verified: false });

          // 8. The new code: back at the password step of the same login, address shown, notice.
          await codeInput.fill(secondCode);
          await page.getByRole('button', { name: tx.activate, exact: true }).click();
          await page.waitForURL((url) => url.pathname === `/interaction/${uid}/password`);
          const loginPassword = page.getByLabel(tx.loginPassword, { exact: true });
          await loginPassword.waitFor();
          expect(await b.htmlLang()).toBe(lang);
          expect(await b.heading()).toBe(tx.loginHeading);
          expect(await page.locator('#login-email').innerText()).toBe(email);
          expect(await page.locator('p.notice[role=status]').innerText()).toBe(tx.activatedNotice);
          expect(await loginPassword.inputValue()).toBe('');

          const account = await t.app.db
            .selectFrom('accounts')
            .selectAll()
            .where('email', '=', email)
            .executeTakeFirstOrThrow();
          expect(account).toMatchObject({
            status: 'active',
            email_verified: true,
            given_name: 'Aiko',
            family_name: 'Tanaka',
            country: 'JP',
            partner: false,
            locale: lang,
          });

          // 9. Log in with the new password, consent, and the RP gets its code.
          await loginPassword.fill(password);
          await page.getByRole('button', { name: tx.loginSubmit, exact: true }).click();
          const allow = page.getByRole('button', { name: tx.allow, exact: true });
          await allow.waitFor();
          expect(await b.htmlLang()).toBe(lang);
          await allow.click();
          const callback = await b.waitForRp(RP_CALLBACK);
          expect(callback.searchParams.get('state')).toBe(auth.state);
          expect(callback.searchParams.get('iss')).toBe(t.issuer);

          // 10. openid-client validates the ID token; the address is the one just verified.
          const tokens = await rp.redeem(callback, auth);
          const idToken = tokens.claims()!;
          expect(idToken.iss).toBe(t.issuer);
          expect(idToken.aud).toBe(registered.client_id);
          expect(idToken.nonce).toBe(auth.nonce);
          expect(idToken.sub).toBe(account.id);
          expect(idToken.email).toBe(email);
          expect(idToken.email_verified).toBe(true);
          expect(idToken.amr).toEqual(['pwd']);
          expect(idToken.acr).toBe(ACR_PWD);

          const info = await rp.userinfo(tokens.access_token, account.id);
          expect(info).toMatchObject({
            sub: account.id,
            email,
            email_verified: true,
            given_name: 'Aiko',
            family_name: 'Tanaka',
            name: lang === 'ja' ? 'Tanaka Aiko' : 'Aiko Tanaka',
            locale: lang,
          });

          expect(b.rpVisits.map((u) => `${new URL(u).origin}${new URL(u).pathname}`)).toEqual([RP_CALLBACK]);
          expect(b.pageErrors).toEqual([]);
        } finally {
          await b.close();
        }
      },
      JOURNEY_TIMEOUT_MS,
    );
  });
});
