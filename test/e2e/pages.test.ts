/**
 * The pages as a Japanese (and an English) business user meets them, on a phone (390 px wide) in
 * a real Chromium: every page visited, also the ones answering a refused form, has the language
 * menu and does not scroll sideways. A console page bookmarked while logged out is the page shown
 * after the login; the security page asks for the password once, names the device in each button
 * and logs out everywhere else; names read 姓 then 名 in Japanese; times are in the account's zone
 * (or the browser's) in the page's language; the sign-up form keeps what was typed across a
 * language switch and preselects the browser's country; the reset-code page says "verification
 * code", not "activation". Texts are written out here, not read from views/locales.
 */
import type { Browser, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { startWithBrowser, RpBrowser } from '../helpers/browser.js';
import { registerUser, RP_CALLBACK, TEST_PASSWORD } from '../helpers/fixtures.js';
import { signInToAccount } from '../helpers/account.js';
import { HttpClient } from '../helpers/http-client.js';

const RP_ORIGIN = new URL(RP_CALLBACK).origin;
const JOURNEY_TIMEOUT_MS = 180_000;
const PHONE = { width: 390, height: 844 };
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

/** A zone's offset from UTC today, as the zone menu shows it: Los Angeles is UTC-08:00, or UTC-07:00 in summer. */
function offsetNow(timeZone: string): string {
  const name = new Intl.DateTimeFormat('en', { timeZone, timeZoneName: 'longOffset' })
    .formatToParts(new Date())
    .find((part) => part.type === 'timeZoneName')!.value;
  return name === 'GMT' ? 'UTC+00:00' : name.replace('GMT', 'UTC');
}

type Lang = 'ja' | 'en';

interface Texts {
  browserLocale: string;
  /** The browser's own zone, and the account's (null: none chosen, the browser's counts). */
  browserZone: string;
  accountZone: string | null;
  names: { given: string; family: string };
  languageNav: string;
  languageName: string;
  email: string;
  next: string;
  password: string;
  logIn: string;
  loginFailed: string;
  hello: string;
  securityHeading: string;
  reauthIntro: string;
  currentPassword: string;
  confirmPassword: string;
  reauthFresh: string;
  reauthRequired: string;
  lastSeen: RegExp;
  endFirefox: RegExp;
  endOthers: string;
  othersEnded: string;
  personal: string;
  nameLabels: string[];
  zoneOption: string;
  logout: string;
  signupNameLabels: string[];
  browserCountry: string;
  signupEmail: string;
  signupPassword: string;
  signupPasswordAgain: string;
  register: string;
  mismatch: string;
  countryNear: [before: string, after: string];
  recoveryNext: string;
  sendCode: string;
  codeLabel: string;
  verifyCode: string;
  codeWrong: string;
}

const TEXTS: Record<Lang, Texts> = {
  ja: {
    browserLocale: 'ja-JP',
    browserZone: 'Europe/London',
    accountZone: 'Asia/Tokyo',
    names: { given: '花子', family: '佐藤' },
    languageNav: '言語',
    languageName: '日本語',
    email: 'E メールアドレス',
    next: '次へ',
    password: 'パスワード',
    logIn: 'ログイン',
    loginFailed: 'E メールアドレスまたはパスワードが正しくありません。',
    hello: 'ようこそ、佐藤 花子 様',
    securityHeading: 'アカウントセキュリティ',
    reauthIntro: 'このページで変更を行うには、先にパスワードを確認してください。確認後 5 分間は再入力は不要です。',
    currentPassword: '現在のパスワード',
    confirmPassword: 'パスワードを確認',
    reauthFresh: 'パスワードを確認しました。しばらくの間、このページの変更にパスワードは不要です。',
    reauthRequired: '先にこのページ上部でパスワードを確認してから、もう一度お試しください。',
    // The account's zone (Tokyo), not the browser's (London).
    lastSeen: /最終アクセス \d{4}年\d{1,2}月\d{1,2}日 \d{1,2}:\d{2} 日本標準時/,
    endFirefox: /^このセッションをログアウト: Firefox 128 · Linux、/,
    endOthers: '他のすべての場所からログアウト',
    othersEnded: 'このブラウザー以外のすべての場所からログアウトしました。',
    personal: '個人情報',
    nameLabels: ['姓', '名'],
    zoneOption: '(UTC+09:00) 日本標準時 (東京)',
    logout: 'ログアウト',
    signupNameLabels: ['姓', '名'],
    browserCountry: '日本',
    signupEmail: 'E メールアドレス',
    signupPassword: 'パスワード',
    signupPasswordAgain: 'パスワード(確認)',
    register: '登録',
    mismatch: '2 つのパスワードが一致しません。',
    // 日本 (にほん) sorts by its reading, among the names in katakana that start with ニ.
    countryNear: ['ニジェール', 'ニュージーランド'],
    recoveryNext: '次へ',
    sendCode: 'コードを送信',
    codeLabel: '確認コード',
    verifyCode: 'コードを確認',
    codeWrong: 'コードが正しくありません。残り 4 回入力できます。',
  },
  en: {
    browserLocale: 'en-US',
    browserZone: 'America/Los_Angeles',
    accountZone: null,
    names: { given: 'Hanako', family: 'Yamada' },
    languageNav: 'Language',
    languageName: 'English',
    email: 'Email address',
    next: 'Next',
    password: 'Password',
    logIn: 'Log in',
    loginFailed: 'The email address or password is incorrect.',
    hello: 'Hello, Hanako Yamada',
    securityHeading: 'Account security',
    reauthIntro: 'To change anything on this page, confirm your password first. It then counts for 5 minutes.',
    currentPassword: 'Current password',
    confirmPassword: 'Confirm password',
    reauthFresh: 'Password confirmed: for the next few minutes, changes on this page do not ask for it.',
    reauthRequired: 'Confirm your password at the top of this page first, then try again.',
    // No zone chosen: the browser's (Los Angeles).
    lastSeen: /last seen [A-Z][a-z]+ \d{1,2}, \d{4} at \d{1,2}:\d{2}\s[AP]M Pacific (Standard|Daylight) Time/,
    endFirefox: /^Log out of this session: Firefox 128 · Linux, /,
    endOthers: 'Log out everywhere else',
    othersEnded: 'You are logged out everywhere else; this browser stays logged in.',
    personal: 'Personal information',
    nameLabels: ['Given name', 'Family name'],
    zoneOption: `(${offsetNow('America/Los_Angeles')}) Pacific Time (Los Angeles)`,
    logout: 'Log out',
    signupNameLabels: ['Given name', 'Family name'],
    browserCountry: 'United States',
    signupEmail: 'Email address',
    signupPassword: 'Password',
    signupPasswordAgain: 'Password (again)',
    register: 'Register',
    mismatch: 'The two passwords do not match.',
    countryNear: ['Ukraine', 'Uruguay'],
    recoveryNext: 'Next',
    sendCode: 'Send code',
    codeLabel: 'Verification code',
    verifyCode: 'Verify code',
    codeWrong: 'That code is not right. 4 tries left.',
  },
};

const OTHER: Record<Lang, Lang> = { ja: 'en', en: 'ja' };

/**
 * What every page has: the language menu (an SVG globe, this language current, a link to the
 * other) and nothing wider than the phone's screen.
 */
async function expectPage(page: Page, lang: Lang, where: string): Promise<void> {
  const tx = TEXTS[lang];
  const globe = page.getByRole('navigation', { name: tx.languageNav, exact: true });
  const seen = {
    where,
    lang: await page.locator('html').getAttribute('lang'),
    globes: await globe.locator('svg').count(),
    current: await globe.locator('[aria-current=true]').innerText(),
    other: await globe.getByRole('link', { name: TEXTS[OTHER[lang]].languageName, exact: true }).count(),
    sideways: await page.evaluate<number>(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    ),
  };
  expect(seen).toEqual({ where, lang, globes: 1, current: tx.languageName, other: 1, sideways: 0 });
}

describe('the pages on a phone, in Japanese and English', () => {
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    [t, browser] = await startWithBrowser(startTestApp());
  }, JOURNEY_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.allSettled([browser?.close(), t?.close()]);
  }, JOURNEY_TIMEOUT_MS);

  describe.each<Lang>(['ja', 'en'])('lang=%s', (lang) => {
    const tx = TEXTS[lang];

    it(
      'deep link, one re-authentication, names, times and the language menu on every page',
      async () => {
        const user = await registerUser(t.app, { locale: lang });
        await t.app.db
          .updateTable('accounts')
          .set({ given_name: tx.names.given, family_name: tx.names.family, zoneinfo: tx.accountZone })
          .where('id', '=', user.id)
          .execute();
        // Another browser of the same account, to be logged out from this one.
        const firefox = new HttpClient({ 'accept-language': lang, 'user-agent': FIREFOX_LINUX });
        await signInToAccount(firefox, t.issuer, user.email);

        const b = await RpBrowser.open(browser, {
          rpOrigin: RP_ORIGIN,
          locale: tx.browserLocale,
          viewport: PHONE,
          timezoneId: tx.browserZone,
        });
        const { page } = b;
        try {
          // 7. A bookmark of the security page while logged out: the login, then that page.
          await page.goto(`${t.issuer}/account/security`);
          await page.getByLabel(tx.email, { exact: true }).fill(user.email);
          await expectPage(page, lang, 'login: email step');
          await page.getByRole('button', { name: tx.next, exact: true }).click();
          const password = page.getByLabel(tx.password, { exact: true });
          await password.waitFor();
          await password.fill('Wrong-Password-1!');
          await page.getByRole('button', { name: tx.logIn, exact: true }).click();
          await page.locator('#form-error').waitFor();
          expect(await page.locator('#form-error').innerText()).toBe(tx.loginFailed);
          await expectPage(page, lang, 'login: after a wrong password');
          await password.fill(TEST_PASSWORD);
          await page.getByRole('button', { name: tx.logIn, exact: true }).click();
          await page.waitForURL(`${t.issuer}/account/security`);
          expect(await b.heading()).toBe(tx.securityHeading);
          await expectPage(page, lang, 'security page');

          // 3. One password box for the page; each button names its session.
          expect(await page.locator('input[type=password]').count()).toBe(1);
          expect(await page.locator('#reauth-intro').innerText()).toBe(tx.reauthIntro);
          const rows = page.locator('#sessions-section li[data-session]');
          expect(await rows.count()).toBe(2);
          // 6. Times in the account's zone, else the browser's, in the page's language.
          const mine = rows.filter({ has: page.locator('strong') });
          expect(await mine.locator('span').innerText()).toMatch(tx.lastSeen);
          const endFirefox = page.getByRole('button', { name: tx.endFirefox });
          expect(await endFirefox.count()).toBe(1);
          await endFirefox.click();
          await page.locator('#form-errors li').first().waitFor();
          expect(await page.locator('#form-errors li').allInnerTexts()).toEqual([tx.reauthRequired]);
          expect(await rows.count()).toBe(2);
          await expectPage(page, lang, 'security page: a change before the password');

          await page.getByLabel(tx.currentPassword, { exact: true }).fill(TEST_PASSWORD);
          await page.getByRole('button', { name: tx.confirmPassword, exact: true }).click();
          await page.locator('#reauth-fresh').waitFor();
          expect(await page.locator('#reauth-fresh').innerText()).toBe(tx.reauthFresh);
          expect(await page.locator('input[type=password]').count()).toBe(0);
          await page.getByRole('button', { name: tx.endOthers, exact: true }).click();
          await page.waitForURL((url) => url.searchParams.get('done') === 'others-ended');
          expect(await page.locator('#done[role=status]').innerText()).toBe(tx.othersEnded);
          expect(await rows.count()).toBe(1);
          expect((await firefox.request(`${t.issuer}/account`)).status).toBe(303);
          await expectPage(page, lang, 'security page: logged out everywhere else');

          // 4. The greeting and the name fields in the language's order; 6. zones by their names.
          await page.goto(`${t.issuer}/account`);
          expect(await b.heading()).toBe(tx.hello);
          await expectPage(page, lang, 'hub');
          await page.goto(`${t.issuer}/account/personal`);
          expect(await page.locator('main form label[for$="_name"]').allInnerTexts()).toEqual(tx.nameLabels);
          const zone = page.locator('#zoneinfo');
          expect(await zone.locator('option[value="Asia/Tokyo"]').innerText()).toBe(
            lang === 'ja' ? tx.zoneOption : '(UTC+09:00) Japan Standard Time (Tokyo)',
          );
          expect(await zone.locator('option[value="America/Los_Angeles"]').innerText()).toBe(
            lang === 'ja' ? `(${offsetNow('America/Los_Angeles')}) 米国太平洋時間 (ロサンゼルス)` : tx.zoneOption,
          );
          await expectPage(page, lang, 'personal information');

          // Logged out: the sign-up form.
          await page.goto(`${t.issuer}/account`);
          await page.getByRole('button', { name: tx.logout, exact: true }).click();
          await page.waitForURL(`${t.issuer}/account/logged-out`);
          await expectPage(page, lang, 'logged out');
          await page.goto(`${t.issuer}/signup`);
          await expectPage(page, lang, 'sign-up form');
          expect(await page.locator('main form label[for$="_name"]').allInnerTexts()).toEqual(tx.signupNameLabels);
          // 5. The browser's country is chosen; names sort by how they are read.
          const country = page.locator('#country');
          expect(await country.locator('option:checked').innerText()).toBe(tx.browserCountry);
          const countries = await country.locator('option').allInnerTexts();
          const at = (name: string) => countries.indexOf(name);
          expect(at(tx.browserCountry)).toBeGreaterThan(at(tx.countryNear[0]));
          expect(at(tx.browserCountry)).toBeLessThan(at(tx.countryNear[1]));

          // 2. A refused form keeps the menu, and switching language keeps what was typed.
          const newcomer = `newcomer-${Date.now()}@example.com`;
          await page.getByLabel(tx.signupEmail, { exact: true }).fill(newcomer);
          await page.locator('#family_name').fill(tx.names.family);
          await page.locator('#given_name').fill(tx.names.given);
          await page.getByLabel(tx.signupPassword, { exact: true }).fill(TEST_PASSWORD);
          await page.getByLabel(tx.signupPasswordAgain, { exact: true }).fill(`${TEST_PASSWORD}x`);
          await page.getByRole('button', { name: tx.register, exact: true }).click();
          await page.locator('#form-errors li').first().waitFor();
          expect(await page.locator('#form-errors li').allInnerTexts()).toContain(tx.mismatch);
          await expectPage(page, lang, 'sign-up form: refused');
          // 10. Once the passwords match, the message about them goes: no stale banner.
          await page.getByLabel(tx.signupPasswordAgain, { exact: true }).fill(TEST_PASSWORD);
          await page.locator('#form-errors').waitFor({ state: 'hidden' });
          await page
            .getByRole('navigation', { name: tx.languageNav, exact: true })
            .getByRole('link', { name: TEXTS[OTHER[lang]].languageName, exact: true })
            .click();
          await page.waitForURL((url) => url.pathname === '/signup' && url.searchParams.get('lang') === OTHER[lang]);
          await expectPage(page, OTHER[lang], 'sign-up form: the other language');
          await page.locator('#family_name').waitFor();
          expect({
            email: await page.locator('#email').inputValue(),
            family: await page.locator('#family_name').inputValue(),
            given: await page.locator('#given_name').inputValue(),
            password: await page.locator('#password').inputValue(),
          }).toEqual({ email: newcomer, family: tx.names.family, given: tx.names.given, password: '' });
          expect(await page.locator('main form label[for$="_name"]').allInnerTexts()).toEqual(
            TEXTS[OTHER[lang]].signupNameLabels,
          );

          // 1. The reset-code page speaks of a verification code, not of activating an account.
          await page.goto(`${t.issuer}/recovery?lang=${lang}`);
          await expectPage(page, lang, 'forgot password');
          await page.locator('#email').fill(user.email);
          await page.getByRole('button', { name: tx.recoveryNext, exact: true }).click();
          await page.locator('#send-code').waitFor();
          await expectPage(page, lang, 'reset: method');
          await page.getByRole('button', { name: tx.sendCode, exact: true }).click();
          const code = page.getByLabel(tx.codeLabel, { exact: true });
          await code.waitFor();
          expect(await page.locator('#verify-code').innerText()).toBe(tx.verifyCode);
          expect(await page.locator('main').innerText()).not.toMatch(/アクティベーション|有効化|[Aa]ctivat/);
          // 13. "Add us to your contacts" names the address the mails really come from.
          const sender = /<([^>]+)>/.exec(t.app.config.mail.from)?.[1] ?? t.app.config.mail.from;
          expect(await page.locator('main').innerText()).toContain(sender);
          await expectPage(page, lang, 'reset: code');
          await code.fill('000000');
          await page.getByRole('button', { name: tx.verifyCode, exact: true }).click();
          await page.locator('#form-error').waitFor();
          expect(await page.locator('#form-error').innerText()).toBe(tx.codeWrong);
          await expectPage(page, lang, 'reset: a wrong code');

          // Forgot email address, reached directly: a way back to the login, Help once.
          await page.goto(`${t.issuer}/forgot-email`);
          expect(await page.locator('#back-to-login').count()).toBe(1);
          expect(await page.locator('a[href^="/help"]').count()).toBe(1);
          await expectPage(page, lang, 'forgot email address');

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
