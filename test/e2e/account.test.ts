/**
 * End to end account console (PR1-PR6, M1) in a real Chromium, against the app on PostgreSQL and
 * Redis, a real SMTP server and a Twilio-compatible SMS API on loopback: open /account, log in
 * through the login pages, see the hub, edit the personal information (the address stays read
 * only), add a mobile number with the code from the text message, look at the certification
 * hash and the session list, leave the change-password page with Cancel, change the password
 * while the checklist ticks, land on the login page with the notice and the mail, fail with the
 * old password, log in with the new one, and log out from the hub. Once per language.
 */
import type { Browser, Locator, Page } from 'playwright-core';
import { certificationHash } from '../../src/identity/accounts/certification.js';
import { NEW_PASSWORD, SMS_FROM } from '../helpers/account.js';
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
import { FakeSmsProvider } from '../helpers/fake-sms.js';
import { registerUser, RP_CALLBACK, TEST_PASSWORD } from '../helpers/fixtures.js';
import { MailCatcher, type CaughtMail } from '../helpers/smtp.js';

const RP_ORIGIN = new URL(RP_CALLBACK).origin;
const JOURNEY_TIMEOUT_MS = 120_000;
const SCREENSHOT = '/tmp/account-security.png';
const TYPED_NUMBER = '090-1234-5678';
const E164_NUMBER = '+819012345678';

type Lang = 'ja' | 'en';

/** What the pages, the mail and the text message must say, written out here (not read from views/locales). */
interface Texts {
  loginTitle: string;
  loginEmail: string;
  next: string;
  loginPassword: string;
  loginSubmit: string;
  loginFailed: string;
  passwordChangedNotice: string;
  navLabel: string;
  homeTitle: string;
  hello: (name: string) => string;
  email: string;
  accountId: string;
  personal: string;
  emailReadOnly: string;
  emailHelp: string;
  givenName: string;
  familyName: string;
  country: string;
  japan: string;
  countryRequired: string;
  timeZone: string;
  save: string;
  saved: string;
  security: string;
  securityTitle: string;
  sections: string[];
  phoneNone: string;
  addPhone: string;
  phoneHeading: string;
  currentPassword: string;
  countryCode: string;
  japanCode: string;
  mobileNumber: string;
  submit: string;
  verifyHeading: string;
  verifyIntro: (phone: string) => string;
  code: string;
  confirm: string;
  sms: (code: string) => string;
  phoneOn: string;
  phoneAdded: string;
  thisSession: string;
  changePassword: string;
  logoutWarning: string;
  newPassword: string;
  newPasswordAgain: string;
  checklist: Record<Rule, string>;
  cancel: string;
  mailSubject: string;
  mailGreeting: (name: string) => string;
  mailIntro: string;
  logout: string;
  loggedOutTitle: string;
  loggedOutBody: string;
  languageNav: string;
  languageName: string;
  otherLanguageName: string;
}

const TEXTS: Record<Lang, Texts> = {
  ja: {
    loginTitle: 'ログイン · Monban',
    loginEmail: 'E メールアドレス',
    next: '次へ',
    loginPassword: 'パスワード',
    loginSubmit: 'ログイン',
    loginFailed: 'E メールアドレスまたはパスワードが正しくありません。',
    passwordChangedNotice: 'パスワードを変更しました。新しいパスワードでログインしてください。',
    navLabel: 'アカウント',
    homeTitle: 'プロファイル ホーム · Monban',
    hello: (name) => `ようこそ、${name} 様`,
    email: 'E メールアドレス',
    accountId: 'アカウント ID',
    personal: '個人情報',
    emailReadOnly:
      'E メールアドレスはここでは変更できません。新しいアカウントには、以前のサービス、履歴、認定資格、トレーニングは引き継がれません。パートナーはサポートケースで変更を依頼でき、会社が管理するアカウントは会社の管理者に依頼してください。',
    emailHelp: 'E メールアドレスの変更について',
    givenName: '名',
    familyName: '姓',
    country: '国または地域',
    japan: '日本',
    countryRequired: '国または地域を選択してください。',
    timeZone: 'タイムゾーン',
    save: '保存',
    saved: '変更を保存しました。',
    security: 'アカウントセキュリティ',
    securityTitle: 'アカウントセキュリティ · Monban',
    sections: [
      'パスワード',
      '二段階認証',
      'パスキーとセキュリティキー',
      '携帯電話番号',
      '認定ハッシュ',
      'ログイン中のセッション',
      'アクセスを許可したアプリ',
    ],
    phoneNone: '携帯電話番号は登録されていません。登録すると SMS でパスワードをリセットできます。',
    addPhone: '携帯電話番号を登録',
    phoneHeading: '携帯電話番号',
    currentPassword: '現在のパスワード',
    countryCode: '国コード',
    japanCode: '日本 (+81)',
    mobileNumber: '携帯電話番号',
    submit: '送信',
    verifyHeading: 'SMS のコードを入力',
    verifyIntro: (phone) => `${phone} に SMS でコードを送信しました。`,
    code: 'コード',
    confirm: '確認',
    sms: (code) => `Monban の確認コード: ${code}（有効期限 10 分）。このコードは誰にも教えないでください。`,
    phoneOn: 'SMS によるパスワードリセットが有効です:',
    phoneAdded: '携帯電話番号を登録し、確認しました。',
    thisSession: '(このブラウザー)',
    changePassword: 'パスワード変更',
    logoutWarning:
      '変更すると、このブラウザーを含むすべての場所からログアウトします。新しいパスワードで再度ログインしてください。',
    newPassword: '新しいパスワード',
    newPasswordAgain: '新しいパスワード(確認)',
    checklist: {
      length: '12 から 60 文字',
      lower: '小文字の英字',
      upper: '大文字の英字',
      digit: '半角数字',
      symbol: '記号',
      email: 'E メールアドレスの一部を含まない',
      match: '2 つの入力が一致',
    },
    cancel: 'キャンセル',
    mailSubject: 'Monban のパスワードが変更されました',
    mailGreeting: (name) => `${name} 様`,
    mailIntro: 'Monban アカウントのパスワードが変更されました。',
    logout: 'ログアウト',
    loggedOutTitle: 'ログアウトしました',
    loggedOutBody: 'Monban アカウントからログアウトしました。',
    languageNav: '言語',
    languageName: '日本語',
    otherLanguageName: 'English',
  },
  en: {
    loginTitle: 'Log in · Monban',
    loginEmail: 'Email address',
    next: 'Next',
    loginPassword: 'Password',
    loginSubmit: 'Log in',
    loginFailed: 'The email address or password is incorrect.',
    passwordChangedNotice: 'Your password was changed. Log in with your new password.',
    navLabel: 'Account',
    homeTitle: 'Profile home · Monban',
    hello: (name) => `Hello, ${name}`,
    email: 'Email address',
    accountId: 'Account ID',
    personal: 'Personal information',
    emailReadOnly:
      'The email address cannot be changed here. A new account does not carry over your services, history, certifications or training; partners can open a support case to change it, and company-managed accounts ask their company administrator.',
    emailHelp: 'Changing your email address',
    givenName: 'Given name',
    familyName: 'Family name',
    country: 'Country or region',
    japan: 'Japan',
    countryRequired: 'Choose your country or region.',
    timeZone: 'Time zone',
    save: 'Save',
    saved: 'Your changes are saved.',
    security: 'Account security',
    securityTitle: 'Account security · Monban',
    sections: [
      'Password',
      'Two-step verification',
      'Passkeys and security keys',
      'Mobile phone number',
      'Certification hash',
      'Where you are logged in',
      'Apps with access',
    ],
    phoneNone: 'No mobile number is registered. Add one to reset your password by text message.',
    addPhone: 'Add mobile number',
    phoneHeading: 'Mobile phone number',
    currentPassword: 'Current password',
    countryCode: 'Country code',
    japanCode: 'Japan (+81)',
    mobileNumber: 'Mobile number',
    submit: 'Submit',
    verifyHeading: 'Enter the code from the text message',
    verifyIntro: (phone) => `We sent a code by SMS to ${phone}.`,
    code: 'Code',
    confirm: 'Confirm',
    sms: (code) =>
      `Monban: your verification code is ${code}. It expires in 10 minutes. Never share it with anyone, including Monban staff.`,
    phoneOn: 'SMS password reset is on for',
    phoneAdded: 'Your mobile number is registered and verified.',
    thisSession: '(this browser)',
    changePassword: 'Change password',
    logoutWarning:
      'After the change you are logged out everywhere, this browser included, and log in again with the new password.',
    newPassword: 'New password',
    newPasswordAgain: 'New password (again)',
    checklist: {
      length: '12 to 60 characters',
      lower: 'A lower-case letter',
      upper: 'An upper-case letter',
      digit: 'A digit',
      symbol: 'A symbol',
      email: 'No part of your email address',
      match: 'Both entries match',
    },
    cancel: 'Cancel',
    mailSubject: 'Your Monban password was changed',
    mailGreeting: (name) => `Hello ${name},`,
    mailIntro: 'The password of your Monban account was just changed.',
    logout: 'Log out',
    loggedOutTitle: 'You are logged out',
    loggedOutBody: 'You are logged out of your Monban account.',
    languageNav: 'Language',
    languageName: 'English',
    otherLanguageName: '日本語',
  },
};

/**
 * Per language: the new name and time zone the journey saves, and the name as the pages and mails
 * then write it (Japanese: family name first; English: given name first).
 */
const CHANGES: Record<Lang, { givenName: string; familyName: string; zone: string; fullName: string }> = {
  ja: { givenName: '花子', familyName: '佐藤', zone: 'Asia/Tokyo', fullName: '佐藤 花子' },
  en: { givenName: 'Sakura', familyName: 'Yamada', zone: 'Europe/London', fullName: 'Sakura Yamada' },
};
/** The fixture's account (Hanako Yamada) greeted in each language. */
const FIXTURE_NAME: Record<Lang, string> = { ja: 'Yamada Hanako', en: 'Hanako Yamada' };

/** Exactly the rules in `met` are ticked (data-met="true" and the `met` class), after a moment for the input handler. */
async function expectMet(page: Page, met: readonly Rule[], after: string): Promise<void> {
  const expected = Object.fromEntries(RULES.map((rule) => [rule, met.includes(rule)]));
  const seenOf = (items: ChecklistItem[]) =>
    Object.fromEntries(items.map((item) => [item.rule, item.dataMet === 'true' && item.classMet]));
  const agrees = (items: ChecklistItem[]) =>
    items.length === RULES.length &&
    items.every((item) => item.dataMet === String(expected[item.rule]) && item.classMet === expected[item.rule]);
  const deadline = Date.now() + 2_000;
  let items = await readChecklist(page);
  while (!agrees(items) && Date.now() < deadline) {
    await page.waitForTimeout(50);
    items = await readChecklist(page);
  }
  expect({ after, met: seenOf(items) }).toEqual({ after, met: expected });
}

/** Types each piece into `input` key by key and checks the checklist after each. */
async function typeAndExpect(page: Page, input: Locator, steps: [string, readonly Rule[]][]): Promise<void> {
  for (const [chars, met] of steps) {
    await input.pressSequentially(chars);
    await expectMet(page, met, `typing ${JSON.stringify(chars)} (now ${JSON.stringify(await input.inputValue())})`);
  }
}

/** The email step of the login pages is showing, in `lang`; returns the interaction's path. */
async function expectEmailStep(b: RpBrowser, tx: Texts, lang: Lang): Promise<void> {
  await b.page.getByRole('button', { name: tx.next, exact: true }).waitFor();
  await waitForInteractionAddress(b.page);
  expect(await b.htmlLang()).toBe(lang);
  expect(await b.page.title()).toBe(tx.loginTitle);
}

/** Email step, then password step; stops after pressing "Log in". */
async function logIn(b: RpBrowser, tx: Texts, email: string, password: string): Promise<void> {
  const { page } = b;
  await page.getByLabel(tx.loginEmail, { exact: true }).fill(email);
  await page.getByRole('button', { name: tx.next, exact: true }).click();
  await typePassword(b, tx, email, password);
}

async function typePassword(b: RpBrowser, tx: Texts, email: string, password: string): Promise<void> {
  const { page } = b;
  const input = page.getByLabel(tx.loginPassword, { exact: true });
  await input.waitFor();
  await waitForInteractionAddress(page, '/password');
  expect(await page.locator('#login-email').innerText()).toBe(email);
  await input.fill(password);
  await page.getByRole('button', { name: tx.loginSubmit, exact: true }).click();
}

/** The hub is showing for this account, in `lang`. */
async function expectHub(
  b: RpBrowser,
  tx: Texts,
  lang: Lang,
  issuer: string,
  who: { name: string; email: string; username: string },
): Promise<void> {
  const { page } = b;
  await page.waitForURL(`${issuer}/account`);
  await page.locator('#account-id').waitFor();
  expect(await b.htmlLang()).toBe(lang);
  expect(await page.title()).toBe(tx.homeTitle);
  expect(await b.heading()).toBe(tx.hello(who.name));
  expect(await page.locator('dl.summary dt').allInnerTexts()).toEqual([tx.email, tx.accountId]);
  expect(await page.locator('#account-email').innerText()).toBe(who.email);
  expect(await page.locator('#account-id').innerText()).toBe(who.username);
}

function accountNav(page: Page, tx: Texts): Locator {
  return page.getByRole('navigation', { name: tx.navLabel, exact: true });
}

describe('account console end to end in a real browser (PR1-PR6, M1)', () => {
  let t: TestApp;
  let browser: Browser;
  const catcher = new MailCatcher();
  const fake = new FakeSmsProvider();

  beforeAll(async () => {
    await Promise.all([catcher.start(), fake.start()]);
    [t, browser] = await startWithBrowser(
      startTestApp({
        overrides: {
          mail: { smtpUrl: catcher.url, from: 'Monban <no-reply@monban.test>' },
          sms: { baseUrl: fake.baseUrl, accountSid: fake.accountSid, authToken: fake.authToken, from: SMS_FROM },
        },
      }),
    );
  }, JOURNEY_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.allSettled([browser?.close(), t?.close()]);
    await Promise.allSettled([catcher.stop(), fake.stop()]);
  }, JOURNEY_TIMEOUT_MS);

  describe.each<Lang>(['ja', 'en'])('lang=%s', (lang) => {
    const tx = TEXTS[lang];
    const changes = CHANGES[lang];

    it(
      'logs in, edits the profile, adds a mobile number, changes the password, logs in again and logs out',
      async () => {
        const user = await registerUser(t.app, { locale: lang });
        // The password is 2 hours old, so the 1-hour minimum age does not refuse the change.
        await t.app.db
          .updateTable('accounts')
          .set({ password_changed_at: new Date(Date.now() - 2 * 3600_000) })
          .where('id', '=', user.id)
          .execute();
        const b = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: lang === 'ja' ? 'ja-JP' : 'en-US' });
        const { page } = b;
        const db = t.app.db;
        const accountRow = () =>
          db.selectFrom('accounts').selectAll().where('id', '=', user.id).executeTakeFirstOrThrow();
        try {
          // 1. /account sends a stranger to the login pages (in Japanese: ?lang=ja on /account/login as well).
          await page.goto(lang === 'ja' ? `${t.issuer}/account/login?lang=ja` : `${t.issuer}/account`);
          await expectEmailStep(b, tx, lang);
          await logIn(b, tx, user.email, TEST_PASSWORD);

          // 2. The hub: name, address and account ID.
          await expectHub(b, tx, lang, t.issuer, {
            name: FIXTURE_NAME[lang],
            email: user.email,
            username: user.username,
          });
          const hubLinks = await page.locator('ul.hub a').allInnerTexts();
          expect(hubLinks).toEqual(expect.arrayContaining([tx.personal, tx.security]));
          if (lang === 'ja') {
            // The globe menu works on the console too: English and back.
            const globe = page.getByRole('navigation', { name: tx.languageNav, exact: true });
            expect(await globe.locator('strong').innerText()).toBe(tx.languageName);
            await globe.getByRole('link', { name: tx.otherLanguageName, exact: true }).click();
            await page.waitForURL((url) => url.pathname === '/account' && url.searchParams.get('lang') === 'en');
            expect(await b.htmlLang()).toBe('en');
            expect(await b.heading()).toBe(TEXTS.en.hello(FIXTURE_NAME.en));
            await page
              .getByRole('navigation', { name: TEXTS.en.languageNav, exact: true })
              .getByRole('link', { name: TEXTS.en.otherLanguageName, exact: true })
              .click();
            await page.waitForURL((url) => url.pathname === '/account' && url.searchParams.get('lang') === 'ja');
            expect(await b.htmlLang()).toBe('ja');
            expect(await b.heading()).toBe(tx.hello(FIXTURE_NAME.ja));
          }

          // 3. Personal information: the address is read only, with the reason; name and time zone change.
          await accountNav(page, tx).getByRole('link', { name: tx.personal, exact: true }).click();
          await page.waitForURL((url) => url.pathname === '/account/personal');
          expect(await b.heading()).toBe(tx.personal);
          expect(await b.htmlLang()).toBe(lang);
          expect(await accountNav(page, tx).locator('a[aria-current=page]').innerText()).toBe(tx.personal);
          const emailInput = page.getByLabel(tx.email, { exact: true });
          expect(await emailInput.inputValue()).toBe(user.email);
          expect(await emailInput.getAttribute('readonly')).not.toBeNull();
          expect(await emailInput.getAttribute('name')).toBeNull(); // never sent with the form
          expect(await emailInput.isEditable()).toBe(false);
          const why = page.locator(`#${await emailInput.getAttribute('aria-describedby')}`);
          expect(await why.innerText()).toBe(`${tx.emailReadOnly} ${tx.emailHelp}`);
          expect(await why.getByRole('link', { name: tx.emailHelp, exact: true }).getAttribute('href')).toBe(
            '/help#email',
          );

          // The name is asked in the language's order: 姓 then 名 in Japanese, given name first in English.
          const nameLabels = await page.locator('main form label[for$="_name"]').allInnerTexts();
          expect(nameLabels).toEqual(lang === 'ja' ? [tx.familyName, tx.givenName] : [tx.givenName, tx.familyName]);
          const givenName = page.getByLabel(tx.givenName, { exact: true });
          const familyName = page.getByLabel(tx.familyName, { exact: true });
          const zone = page.getByLabel(tx.timeZone, { exact: true });
          const country = page.getByLabel(tx.country, { exact: true });
          expect(await givenName.inputValue()).toBe('Hanako');
          expect(await zone.inputValue()).toBe('');
          // The account has no country yet: nothing is pre-chosen for the user.
          expect(await country.inputValue()).toBe('');
          await givenName.fill(changes.givenName);
          await familyName.fill(changes.familyName);
          await zone.selectOption(changes.zone);
          // Saving without choosing a country is refused (and nothing is stored); what was typed stays.
          await page.getByRole('button', { name: tx.save, exact: true }).click();
          const formErrors = page.locator('#form-errors[role=alert] li');
          await formErrors.first().waitFor();
          expect(await formErrors.allInnerTexts()).toEqual([tx.countryRequired]);
          expect(await givenName.inputValue()).toBe(changes.givenName);
          expect(await zone.inputValue()).toBe(changes.zone);
          expect(await accountRow()).toMatchObject({ given_name: 'Hanako', zoneinfo: null, country: null });
          await country.selectOption({ label: tx.japan });
          await page.getByRole('button', { name: tx.save, exact: true }).click();
          await page.waitForURL(
            (url) => url.pathname === '/account/personal' && url.searchParams.get('done') === 'saved',
          );
          expect(await page.locator('#done[role=status]').innerText()).toBe(tx.saved);
          expect(await page.locator('#form-errors').count()).toBe(0);
          expect(await givenName.inputValue()).toBe(changes.givenName);
          expect(await zone.inputValue()).toBe(changes.zone);
          expect(await country.inputValue()).toBe('JP');
          expect(await emailInput.inputValue()).toBe(user.email);
          expect(await accountRow()).toMatchObject({
            given_name: changes.givenName,
            family_name: changes.familyName,
            zoneinfo: changes.zone,
            country: 'JP',
            locale: lang,
            email: user.email,
          });

          // 4. Account security: add a mobile number; the code comes by SMS through the fake provider.
          await accountNav(page, tx).getByRole('link', { name: tx.security, exact: true }).click();
          await page.waitForURL((url) => url.pathname === '/account/security');
          expect(await page.title()).toBe(tx.securityTitle);
          expect(await b.heading()).toBe(tx.security);
          expect(await page.locator('main section h2').allInnerTexts()).toEqual(tx.sections);
          expect(await page.locator('#phone-section p').innerText()).toBe(tx.phoneNone);
          await page.getByRole('link', { name: tx.addPhone, exact: true }).click();

          await page.waitForURL((url) => url.pathname === '/account/security/phone');
          expect(await b.heading()).toBe(tx.phoneHeading);
          const current = page.getByLabel(tx.currentPassword, { exact: true });
          expect(await current.getAttribute('type')).toBe('password');
          await current.fill(TEST_PASSWORD);
          const callingCode = page.getByLabel(tx.countryCode, { exact: true });
          await callingCode.selectOption({ label: tx.japanCode });
          expect(await callingCode.inputValue()).toBe('JP');
          const number = page.getByLabel(tx.mobileNumber, { exact: true });
          expect(await number.getAttribute('type')).toBe('tel');
          // Styled like the other fields (full width), not left as the browser's bare default box.
          const [numberBox, currentBox] = await Promise.all([number.boundingBox(), current.boundingBox()]);
          expect(numberBox!.width).toBeCloseTo(currentBox!.width, 0);
          expect(numberBox!.height).toBeCloseTo(currentBox!.height, 0);
          await number.fill(TYPED_NUMBER);
          const smsBefore = fake.messagesTo(E164_NUMBER);
          await page.getByRole('button', { name: tx.submit, exact: true }).click();

          await page.waitForURL((url) => url.pathname === '/account/security/phone/verify');
          expect(await b.htmlLang()).toBe(lang);
          expect(await b.heading()).toBe(tx.verifyHeading);
          expect(await page.locator('main > p').first().innerText()).toBe(tx.verifyIntro('+81 90 1234 5678'));
          // Both journeys use the same number: this one's message is the one that was not there before.
          const sms = await fake.waitFor(E164_NUMBER, (m) => !smsBefore.includes(m));
          expect(sms.from).toBe(SMS_FROM);
          expect(sms.accountSid).toBe(fake.accountSid);
          const code = sms.body.match(/\b(\d{6})\b/)?.[1];
          expect(code).toMatch(/^\d{6}$/);
          expect(sms.body).toBe(tx.sms(code!));
          expect(fake.messagesTo(E164_NUMBER)).toHaveLength(smsBefore.length + 1);
          expect(fake.requests.every((r) => r.status === 201)).toBe(true);
          await page.getByLabel(tx.code, { exact: true }).fill(code!);
          await page.getByRole('button', { name: tx.confirm, exact: true }).click();

          // 5. Back on the security page: the number, the notice, the certification hash, this browser.
          await page.waitForURL(
            (url) => url.pathname === '/account/security' && url.searchParams.get('done') === 'phone-added',
          );
          expect(await page.locator('#done[role=status]').innerText()).toBe(tx.phoneAdded);
          expect(await page.locator('#phone-number').getAttribute('data-e164')).toBe(E164_NUMBER);
          expect(await page.locator('#phone-number').innerText()).toBe('+81 90 1234 5678');
          expect(await page.locator('#phone-section p').first().innerText()).toBe(`${tx.phoneOn} +81 90 1234 5678`);
          expect(await accountRow()).toMatchObject({ phone_number: E164_NUMBER, phone_number_verified: true });

          const hash = await page.locator('#certification-hash').innerText();
          expect(hash).toMatch(/^[0-9A-F]{4}(-[0-9A-F]{4}){7}$/);
          expect(hash).toBe(certificationHash(t.app.certificationKey, user.id));

          const sessions = page.locator('#sessions-section li[data-session]');
          expect(await sessions.count()).toBe(1);
          const mine = sessions.first();
          const sessionText = await mine.locator('span').first().innerText();
          expect(sessionText).toContain(tx.thisSession);
          expect(sessionText).toMatch(/ · (127\.0\.0\.1|::1) · /); // the browser reaches localhost over IPv4 or IPv6
          expect(sessionText).toMatch(/Chrom/);
          expect(sessionText).toContain('Linux');
          const stored = await db
            .selectFrom('account_sessions')
            .select('session_id')
            .where('account_id', '=', user.id)
            .execute();
          expect(stored.map((s) => s.session_id)).toEqual([await mine.getAttribute('data-session')]);

          await page.screenshot({
            path: lang === 'en' ? SCREENSHOT : SCREENSHOT.replace('.png', `-${lang}.png`),
            fullPage: true,
          });

          // 6. Change password, then Cancel: back on the security page, nothing changed, still signed in.
          const before = await accountRow();
          await page.getByRole('link', { name: tx.changePassword, exact: true }).click();
          await page.waitForURL((url) => url.pathname === '/account/security/password');
          expect(await b.heading()).toBe(tx.changePassword);
          expect(await page.locator('main p.hint').first().innerText()).toBe(tx.logoutWarning);
          const currentPassword = page.getByLabel(tx.currentPassword, { exact: true });
          const newPassword = page.getByLabel(tx.newPassword, { exact: true });
          const again = page.getByLabel(tx.newPasswordAgain, { exact: true });
          await currentPassword.fill(TEST_PASSWORD);
          await newPassword.fill(NEW_PASSWORD);
          await page.getByRole('link', { name: tx.cancel, exact: true }).click();
          await page.waitForURL((url) => url.pathname === '/account/security' && url.search === '');
          expect(await b.heading()).toBe(tx.security);
          expect(await page.locator('#done').count()).toBe(0);
          const afterCancel = await accountRow();
          expect(afterCancel.password_hash).toBe(before.password_hash);
          expect(afterCancel.password_changed_at).toEqual(before.password_changed_at);

          // 7. Change password for real; the checklist ticks while typing.
          await page.getByRole('link', { name: tx.changePassword, exact: true }).click();
          await page.waitForURL((url) => url.pathname === '/account/security/password');
          const checklist = await readChecklist(page);
          expect(checklist.map((item) => item.rule)).toEqual(RULES);
          expect(checklist.map((item) => item.text)).toEqual(RULES.map((rule) => tx.checklist[rule]));
          await expectMet(page, [], 'loading the page');
          expect(await newPassword.inputValue()).toBe('');
          await currentPassword.fill(TEST_PASSWORD);
          await expectMet(page, [], 'typing the current password');
          const noLength: Rule[] = ['lower', 'upper', 'symbol', 'email'];
          await typeAndExpect(page, newPassword, [
            ['M', ['upper', 'email']],
            ['omiji-Yam', noLength], // 10 characters
            ['a', noLength], // 11
            ['-', ['length', ...noLength]], // 12
            ['2027!', ['length', ...noLength, 'digit']],
          ]);
          expect(await newPassword.inputValue()).toBe(NEW_PASSWORD);
          const allButMatch: Rule[] = ['length', 'lower', 'upper', 'digit', 'symbol', 'email'];
          await typeAndExpect(page, again, [
            [NEW_PASSWORD.slice(0, -1), allButMatch],
            [NEW_PASSWORD.slice(-1), [...allButMatch, 'match']],
            ['x', allButMatch],
          ]);
          await again.press('Backspace');
          await expectMet(page, [...allButMatch, 'match'], 'deleting the extra character');
          await page.getByRole('button', { name: tx.submit, exact: true }).click();

          // 8. Logged out everywhere: the login page with the notice; the mail went out.
          await expectEmailStep(b, tx, lang);
          expect(await page.locator('p.notice[role=status]').innerText()).toBe(tx.passwordChangedNotice);
          const mail = await catcher.waitFor(user.email, (m: CaughtMail) => m.subject === tx.mailSubject);
          expect(mail.text).toContain(tx.mailGreeting(changes.fullName));
          expect(mail.text).toContain(tx.mailIntro);
          expect(mail.raw.from?.value).toEqual([{ name: 'Monban', address: 'no-reply@monban.test' }]);
          const changed = await accountRow();
          expect(changed.password_hash).not.toBe(before.password_hash);
          expect(changed.password_changed_at!.getTime()).toBeGreaterThan(Date.now() - 60_000);
          expect(
            await db.selectFrom('account_sessions').select('session_id').where('account_id', '=', user.id).execute(),
          ).toEqual([]);

          // 9. The old password fails; the new one opens the console again.
          await logIn(b, tx, user.email, TEST_PASSWORD);
          const error = page.locator('#form-error');
          await error.waitFor();
          expect(await error.innerText()).toBe(tx.loginFailed);
          expect(await b.htmlLang()).toBe(lang);
          await typePassword(b, tx, user.email, NEW_PASSWORD);
          await expectHub(b, tx, lang, t.issuer, {
            name: changes.fullName,
            email: user.email,
            username: user.username,
          });

          // 10. Log out from the hub: the session ends, /account shows the login page again.
          await page.getByRole('button', { name: tx.logout, exact: true }).click();
          await page.waitForURL(`${t.issuer}/account/logged-out`);
          expect(await b.heading()).toBe(tx.loggedOutTitle);
          expect(await page.locator('main p').first().innerText()).toBe(tx.loggedOutBody);
          expect(
            await db.selectFrom('account_sessions').select('session_id').where('account_id', '=', user.id).execute(),
          ).toEqual([]);
          await page.goto(`${t.issuer}/account`);
          await expectEmailStep(b, tx, lang);
          expect(await page.getByLabel(tx.loginEmail, { exact: true }).inputValue()).toBe('');

          expect(b.rpVisits).toEqual([]);
          expect(b.pageErrors).toEqual([]);
        } finally {
          await b.close();
        }
      },
      JOURNEY_TIMEOUT_MS,
    );
  });
});
