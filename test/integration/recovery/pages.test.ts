/**
 * Issue 6: the forgot-password pages (R1-R5) on PostgreSQL + Redis with real SMTP, a fake
 * Twilio and a fake Duo, driven form by form as a browser does.
 */
import {
  accountRow,
  auditTypes,
  csrfOf,
  ENGLISH,
  expectSentToLogin,
  isActive,
  isLoginPage,
  jpMobile,
  landed,
  NEW_PASSWORD,
  open,
  OTHER_PASSWORD,
  refresh,
  rpSignIn,
  signedInUser,
  startAccountHarness,
  textOf,
  type AccountHarness,
} from '../../helpers/account.js';
import { FakeDuo } from '../../helpers/fake-duo.js';
import {
  authorizationUrl,
  en,
  ja,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import {
  alertText,
  expectNoInternals,
  formAction,
  HttpClient,
  inputValue,
  loginThroughPages,
  submitForm,
  unescapeHtml,
  type PageResponse,
  interactionUid,
} from '../../helpers/http-client.js';
import { pressOnDuoPrompt, totpCode, userWithTotp, wrongTotpCode } from '../../helpers/mfa.js';
import {
  askForCode,
  chooseNewPassword,
  englishBrowser,
  enrollDuo,
  enterResetCode,
  isPage,
  isResetMail,
  isResetSms,
  maskedNumber,
  pastTheCode,
  registerPhone,
  resetByEmail,
  resetCodeByMail,
  resetCodeBySms,
  startReset,
  withRecoveryCodeForm,
} from '../../helpers/recovery.js';
import {
  cloneBrowser,
  formErrors,
  noticeText,
  outboxFor,
  outboxSettled,
  pageShape,
} from '../../helpers/signup-pages.js';

const JAPANESE = { 'accept-language': 'ja' };
const CODE_PAGE = '/recovery/code';
const SECOND_FACTOR_PAGE = '/recovery/second-factor';
const PASSWORD_PAGE = '/recovery/password';

/** Every test starts several resets from 127.0.0.1; the limits are not what these tests are about. */
const ROOMY_LIMITS = {
  recovery: {
    flowTtlSeconds: 3600,
    mailUnknownAddresses: false,
    perIp: { points: 1000, durationSeconds: 3600 },
    perAddress: { points: 50, durationSeconds: 3600 },
    perAddressCeiling: { points: 100, durationSeconds: 3600 },
  },
};

/** The sentence on the code page that says where the code went, as the user reads it. */
const sentTo = (page: PageResponse) => unescapeHtml(textOf(page.body, 'code-sent-to') ?? '');

describe('forgot password pages', () => {
  let h: AccountHarness;
  let duo: FakeDuo;
  let client: Awaited<ReturnType<typeof registerClient>>;
  beforeAll(async () => {
    duo = await new FakeDuo().start();
    h = await startAccountHarness(ROOMY_LIMITS, { duo });
    client = await registerClient(h.app);
  });
  afterAll(async () => {
    await h?.close();
    await duo?.stop();
  });
  afterEach(() => {
    duo.healthy = true;
  });

  /** Logs in to the console through the pages with `password`: whether it got in. */
  async function logsIn(email: string, password: string): Promise<boolean> {
    const last = await loginThroughPages(englishBrowser(), `${h.issuer}/account`, `${h.issuer}/account/callback`, {
      email,
      password,
    });
    return !!last.location?.startsWith(`${h.issuer}/account/callback`);
  }

  it('resets by email from a waiting login and continues to the RP with the new password', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new HttpClient(ENGLISH);
    const auth = authorizationUrl(h.issuer, client.client_id);
    const emailStep = await browser.follow(auth.url);
    const uid = interactionUid(emailStep);
    const passwordStep = await submitForm(browser, emailStep, '/email', { email: user.email });
    const forgot = await browser.request(`${h.issuer}/interaction/${uid}/forgot-password`);
    expect(forgot.body).toContain(`value="${user.email}"`);
    expect(passwordStep.body).toContain(`/interaction/${uid}/forgot-password`);

    const done = await resetByEmail(browser, h.issuer, h.mail, user.email, NEW_PASSWORD, uid);
    expect(done.status).toBe(303);
    expect(done.location).toBe(`${h.issuer}/interaction/${uid}/password?reset=1`);
    const back = await browser.follow(done.location!);
    expect(back.body).toContain('Your password has been reset');
    const toRp = await browser.follow(
      new URL((await submitForm(browser, back, '/password', { password: NEW_PASSWORD })).location!).toString(),
      RP_CALLBACK,
    );
    const consentOrRp = toRp.location?.startsWith(RP_CALLBACK)
      ? toRp
      : await browser.follow((await submitForm(browser, toRp, '/confirm', {})).location!, RP_CALLBACK);
    expect(consentOrRp.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
  });

  it('a reset cut short, or started over, still returns to the waiting login', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = englishBrowser();
    const uid = interactionUid(await browser.follow(authorizationUrl(h.issuer, client.client_id).url));
    await askForCode(browser, await startReset(browser, h.issuer, user.email, uid), { channel: 'email' });
    // "Start again" keeps the login.
    const restarted = await open(browser, h.issuer, '/recovery/restart');
    expect(restarted.location).toBe(`${h.issuer}/recovery?interaction=${uid}`);
    expect(alertText((await open(browser, h.issuer, CODE_PAGE)).body)).toBe(en('errors.RESET_EXPIRED'));

    // Cut short by the hour running out: the start page still belongs to the login.
    await askForCode(browser, await startReset(browser, h.issuer, user.email, uid), { channel: 'email' });
    await h.app.db
      .updateTable('flows')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('email', '=', user.email)
      .where('state', '=', 'awaiting_code')
      .execute();
    const expired = await open(browser, h.issuer, CODE_PAGE);
    expect(alertText(expired.body)).toBe(en('errors.RESET_EXPIRED'));
    expect(inputValue(expired.body, 'interaction')).toBe(uid);
    expect(expired.body).toContain(`href="/interaction/${uid}" id="back-to-login"`);
    const method = await landed(browser, await submitForm(browser, expired, '/recovery', { email: user.email }));
    const again = await askForCode(browser, method, { channel: 'email' });
    const passwordPage = await enterResetCode(browser, again, await resetCodeByMail(h.mail, user.email, 2));
    const done = await chooseNewPassword(browser, passwordPage, NEW_PASSWORD);
    expect(done.location).toBe(`${h.issuer}/interaction/${uid}/password?reset=1`);
  });

  it('resets by email without a waiting login: the login page says so once, and only the new password works', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = englishBrowser();
    const start = await browser.request(`${h.issuer}/recovery`);
    expect(start.body).toContain(en('recovery.heading'));
    const method = await startReset(browser, h.issuer, user.email);
    expect(isPage(method, '/recovery/method')).toBe(true);
    expect(textOf(method.body, 'recovery-email')).toBe(user.email);

    const codePage = await askForCode(browser, method, { channel: 'email' });
    expect(isPage(codePage, CODE_PAGE)).toBe(true);
    expect(sentTo(codePage)).toBe(en('recovery.codeSentEmail', { email: user.email }));
    const mail = await h.mail.waitFor(user.email, isResetMail);
    const code = await resetCodeByMail(h.mail, user.email);
    // The code is in the body only: subjects show on lock screens (mail.codeInSubject is off).
    expect(mail.subject).toBe(en('emails.recoveryCode.subject'));
    expect(mail.subject).not.toContain(code);
    expect(mail.text).toContain(code);
    // The step after can't be opened before the code is entered.
    const early = await open(browser, h.issuer, PASSWORD_PAGE);
    expect(early.status).toBe(303);
    expect(early.location).toBe(`${h.issuer}${CODE_PAGE}`);

    const passwordPage = await enterResetCode(browser, codePage, code);
    expect(isPage(passwordPage, PASSWORD_PAGE)).toBe(true);
    expect(passwordPage.body).toContain(en('recovery.passwordIntro'));
    expect(passwordPage.body).toContain('id="password-checklist"');
    const done = await chooseNewPassword(browser, passwordPage, NEW_PASSWORD);
    expect(done.status).toBe(303);
    expect(done.location).toBe(`${h.issuer}/account/login`);

    const login = await landed(browser, done);
    expect(isLoginPage(login)).toBe(true);
    expect(noticeText(login.body)).toBe(en('account.passwordChangedNotice'));
    // ... once.
    expect(noticeText((await browser.follow(`${h.issuer}/account`)).body)).toBeUndefined();

    expect(await logsIn(user.email, TEST_PASSWORD)).toBe(false);
    expect(await logsIn(user.email, NEW_PASSWORD)).toBe(true);
    expect(await auditTypes(h.app, user.id)).toContain('password.reset');
  });

  it('resets by SMS to the verified mobile number, showing the number only masked', async () => {
    const { user, browser: console } = await signedInUser(h);
    const phone = jpMobile();
    await registerPhone(console, h.issuer, h.sms, phone);

    const browser = englishBrowser();
    const method = await startReset(browser, h.issuer, user.email);
    expect(method.body).toContain(en('recovery.bySms'));
    const codePage = await askForCode(browser, method, { channel: 'sms', country: 'JP', number: phone.national });
    expect(isPage(codePage, CODE_PAGE)).toBe(true);
    expect(sentTo(codePage)).toBe(en('recovery.codeSentSms', { phone: maskedNumber(phone.e164), email: user.email }));
    expect(maskedNumber(phone.e164)).toMatch(/^\+81 \*\* \*{4} \d{4}$/);
    expect(codePage.body).not.toContain(phone.e164);
    expect(codePage.body).not.toContain(phone.national);
    expect(codePage.body).not.toContain(phone.e164.slice(3, -4));

    const code = await resetCodeBySms(h.sms, phone.e164);
    expect(h.sms.messagesTo(phone.e164).at(-1)!.body).toBe(en('sms.recoveryCode', { code, minutes: 10 }));
    // No mail went out for it.
    expect(h.mail.mailsTo(user.email).filter(isResetMail)).toEqual([]);

    // An empty code asks for the text message's code, not the mail's.
    const empty = await enterResetCode(browser, codePage, ' ');
    expect(alertText(empty.body)).toBe(en('errors.SMS_CODE_REQUIRED'));

    const passwordPage = await enterResetCode(browser, codePage, code);
    expect(isPage(passwordPage, PASSWORD_PAGE)).toBe(true);
    const done = await chooseNewPassword(browser, passwordPage, NEW_PASSWORD);
    expect(done.location).toBe(`${h.issuer}/account/login`);
    expect(await logsIn(user.email, NEW_PASSWORD)).toBe(true);
  });

  it('"send a new code" by SMS asks for the number again; only the newest text message\'s code works', async () => {
    const { user, browser: console } = await signedInUser(h);
    const phone = jpMobile();
    await registerPhone(console, h.issuer, h.sms, phone);
    const browser = englishBrowser();
    const sms = { channel: 'sms', country: 'JP', number: phone.national } as const;
    const codePage = await askForCode(browser, await startReset(browser, h.issuer, user.email), sms);
    const first = await resetCodeBySms(h.sms, phone.e164);

    const again = await landed(browser, await submitForm(browser, codePage, '/recovery/resend', {}));
    expect(isPage(again, '/recovery/method')).toBe(true);
    expect(again.body).toMatch(/id="channel-sms" checked/);
    const newCodePage = await askForCode(browser, again, sms);
    const second = await resetCodeBySms(h.sms, phone.e164, 1);

    if (first !== second) {
      const stale = await enterResetCode(browser, newCodePage, first);
      expect(alertText(stale.body)).toBe(en('errors.CODE_WRONG', { attempts: 4 }));
    }
    expect(isPage(await enterResetCode(browser, newCodePage, second), PASSWORD_PAGE)).toBe(true);
  });

  it("sends no SMS unless the typed number is the account's verified one, and the page does not tell", async () => {
    const withPhone = await signedInUser(h);
    const verified = jpMobile();
    await registerPhone(withPhone.browser, h.issuer, h.sms, verified);
    const withoutPhone = await registerUser(h.app, { locale: 'en' });
    const typed = jpMobile();
    const other = jpMobile();

    const smsTo = async (email: string, number: { national: string }) => {
      const browser = englishBrowser();
      const page = await askForCode(browser, await startReset(browser, h.issuer, email), {
        channel: 'sms',
        country: 'JP',
        number: number.national,
      });
      return { browser, page };
    };
    // The account's own number gets a code ...
    const sent = await smsTo(withPhone.user.email, verified);
    const realCode = await resetCodeBySms(h.sms, verified.e164);
    // ... an account without a number, or a number that is not the account's, gets nothing.
    const noNumber = await smsTo(withoutPhone.email, typed);
    const wrongNumber = await smsTo(withPhone.user.email, other);

    // The three code pages are the same but for the address and the masked number typed.
    const shape = (page: PageResponse, email: string, e164: string) =>
      pageShape(page.body, email).split(maskedNumber(e164)).join('PHONE');
    expect(sentTo(noNumber.page)).toBe(
      en('recovery.codeSentSms', { phone: maskedNumber(typed.e164), email: withoutPhone.email }),
    );
    expect(sentTo(wrongNumber.page)).toBe(
      en('recovery.codeSentSms', { phone: maskedNumber(other.e164), email: withPhone.user.email }),
    );
    expect(noNumber.page.status).toBe(sent.page.status);
    expect(shape(noNumber.page, withoutPhone.email, typed.e164)).toBe(
      shape(sent.page, withPhone.user.email, verified.e164),
    );
    expect(shape(wrongNumber.page, withPhone.user.email, other.e164)).toBe(
      shape(sent.page, withPhone.user.email, verified.e164),
    );

    // Nothing was queued for the typed numbers, and nothing reached the provider.
    await outboxSettled(h.app);
    for (const number of [typed.e164, other.e164]) {
      expect(await outboxFor(h.app, number)).toEqual([]);
      expect(h.sms.requestsTo(number)).toEqual([]);
    }
    expect(h.sms.messagesTo(verified.e164).filter(isResetSms)).toHaveLength(1);

    // No code works there: not a guess, not the code the real number got for another reset.
    const guessed = await enterResetCode(noNumber.browser, noNumber.page, '123456');
    expect(alertText(guessed.body)).toBe(en('errors.CODE_WRONG', { attempts: 4 }));
    const borrowed = await enterResetCode(wrongNumber.browser, wrongNumber.page, realCode);
    expect(alertText(borrowed.body)).toBe(en('errors.CODE_WRONG', { attempts: 4 }));

    // "Use another method": the email channel still works.
    for (const { browser, email } of [
      { browser: noNumber.browser, email: withoutPhone.email },
      { browser: wrongNumber.browser, email: withPhone.user.email },
    ]) {
      const method = await open(browser, h.issuer, '/recovery/method');
      expect(isPage(method, '/recovery/method')).toBe(true);
      const codePage = await askForCode(browser, method, { channel: 'email' });
      const passwordPage = await enterResetCode(browser, codePage, await resetCodeByMail(h.mail, email));
      expect((await chooseNewPassword(browser, passwordPage, NEW_PASSWORD)).location).toBe(`${h.issuer}/account/login`);
    }
    expect(await logsIn(withoutPhone.email, NEW_PASSWORD)).toBe(true);
  });

  it('an address without an account gets the same pages and no mail (R5)', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const nobody = `nobody-${Date.now()}@example.com`;
    const walk = async (email: string) => {
      const browser = englishBrowser();
      const method = await startReset(browser, h.issuer, email);
      return { browser, method, code: await askForCode(browser, method, { channel: 'email' }) };
    };
    const known = await walk(user.email);
    const unknown = await walk(nobody);
    expect(pageShape(unknown.method.body, nobody)).toBe(pageShape(known.method.body, user.email));
    expect(pageShape(unknown.code.body, nobody)).toBe(pageShape(known.code.body, user.email));
    await resetCodeByMail(h.mail, user.email);
    await outboxSettled(h.app);
    expect(await outboxFor(h.app, nobody)).toEqual([]);
    expect(h.mail.mailsTo(nobody)).toEqual([]);
    const guess = await enterResetCode(unknown.browser, unknown.code, '123456');
    expect(alertText(guess.body)).toBe(en('errors.CODE_WRONG', { attempts: 4 }));
  });

  it('refuses a number that cannot get text messages and keeps the reset', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = englishBrowser();
    const method = await startReset(browser, h.issuer, user.email);
    const fixedLine = await askForCode(browser, method, { channel: 'sms', country: 'JP', number: '03-1234-5678' });
    expect(fixedLine.status).toBe(400);
    expect(alertText(fixedLine.body)).toBe(en('errors.PHONE_NOT_MOBILE'));
    expect(fixedLine.body).toMatch(/id="channel-sms" checked/);
    expect(inputValue(fixedLine.body, 'number')).toBe('03-1234-5678');
    const empty = await askForCode(browser, fixedLine, { channel: 'sms', country: 'JP', number: '' });
    expect(alertText(empty.body)).toBe(en('errors.PHONE_REQUIRED'));
    expect(h.sms.requestsTo('+81312345678')).toEqual([]);
    const codePage = await askForCode(browser, empty, { channel: 'email' });
    expect(isPage(codePage, CODE_PAGE)).toBe(true);
  });

  it('a new code by email makes the old one useless', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = englishBrowser();
    const codePage = await askForCode(browser, await startReset(browser, h.issuer, user.email), { channel: 'email' });
    const first = await resetCodeByMail(h.mail, user.email);

    const resent = await submitForm(browser, codePage, '/recovery/resend', {});
    expect(resent.status).toBe(303);
    const newCodePage = await landed(browser, resent);
    expect(isPage(newCodePage, CODE_PAGE)).toBe(true);
    expect(noticeText(newCodePage.body)).toBe(en('recovery.codeResent'));
    const second = await resetCodeByMail(h.mail, user.email, 1);

    if (first !== second) {
      const stale = await enterResetCode(browser, newCodePage, first);
      expect(stale.status).toBe(400);
      expect(alertText(stale.body)).toBe(en('errors.CODE_WRONG', { attempts: 4 }));
    }
    expect(isPage(await enterResetCode(browser, newCodePage, second), PASSWORD_PAGE)).toBe(true);
  });

  it('five wrong codes use the code up; a new code works again', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = englishBrowser();
    const codePage = await askForCode(browser, await startReset(browser, h.issuer, user.email), { channel: 'email' });
    const code = await resetCodeByMail(h.mail, user.email);
    const wrong = code === '000000' ? '111111' : '000000';

    const empty = await enterResetCode(browser, codePage, ' ');
    expect(alertText(empty.body)).toBe(en('errors.CODE_REQUIRED'));
    for (const attempts of [4, 3, 2, 1]) {
      expect(alertText((await enterResetCode(browser, codePage, wrong)).body)).toBe(
        en('errors.CODE_WRONG', { attempts }),
      );
    }
    expect(alertText((await enterResetCode(browser, codePage, wrong)).body)).toBe(en('errors.CODE_EXHAUSTED'));
    const tooLate = await enterResetCode(browser, codePage, code);
    expect(alertText(tooLate.body)).toBe(en('errors.CODE_EXHAUSTED'));
    expect(isPage(tooLate, PASSWORD_PAGE)).toBe(false);

    const fresh = await landed(browser, await submitForm(browser, tooLate, '/recovery/resend', {}));
    expect(
      isPage(await enterResetCode(browser, fresh, await resetCodeByMail(h.mail, user.email, 1)), PASSWORD_PAGE),
    ).toBe(true);
  });

  describe('with two-step verification (R4)', () => {
    it('asks for the authenticator code after the emailed code and cannot be skipped', async () => {
      const { user, secret } = await userWithTotp(h);
      const browser = englishBrowser();
      const secondFactor = await pastTheCode(browser, h.issuer, h.mail, user.email);
      expect(isPage(secondFactor, SECOND_FACTOR_PAGE)).toBe(true);
      expect(secondFactor.body).toContain(en('recovery.secondFactorIntro'));
      expect(formAction(secondFactor.body, '/recovery/second-factor/totp')).toBeDefined();

      // Neither the page nor the form of the new password is reachable yet.
      const before = (await accountRow(h.app, user.id)).password_hash;
      const skipped = await open(browser, h.issuer, PASSWORD_PAGE);
      expect(skipped.status).toBe(303);
      expect(skipped.location).toBe(`${h.issuer}${SECOND_FACTOR_PAGE}`);
      const forced = await browser.request(`${h.issuer}${PASSWORD_PAGE}`, {
        form: { _csrf: csrfOf(secondFactor.body), password: NEW_PASSWORD, password_confirmation: NEW_PASSWORD },
      });
      expect(forced.status).toBe(303);
      expect(forced.location).toBe(`${h.issuer}${SECOND_FACTOR_PAGE}`);
      expect((await accountRow(h.app, user.id)).password_hash).toBe(before);

      const wrong = await submitForm(browser, secondFactor, '/recovery/second-factor/totp', {
        code: wrongTotpCode(secret),
      });
      expect(alertText(wrong.body)).toBe(en('errors.MFA_CODE_WRONG'));
      expect(formAction(wrong.body, '/recovery/second-factor/totp')).toBeDefined();
      expectNoInternals(wrong);

      const passed = await submitForm(browser, secondFactor, '/recovery/second-factor/totp', {
        code: totpCode(secret, 1),
      });
      expect(passed.status).toBe(303);
      const passwordPage = await landed(browser, passed);
      expect(isPage(passwordPage, PASSWORD_PAGE)).toBe(true);
      expect((await chooseNewPassword(browser, passwordPage, NEW_PASSWORD)).location).toBe(`${h.issuer}/account/login`);
      expect(await auditTypes(h.app, user.id)).toEqual(expect.arrayContaining(['mfa.failed', 'password.reset']));
    });

    it('takes a recovery code instead, once', async () => {
      const { user, recoveryCodes } = await userWithTotp(h);
      const reset = async (recoveryCode: string) => {
        const browser = englishBrowser();
        const form = await withRecoveryCodeForm(browser, await pastTheCode(browser, h.issuer, h.mail, user.email));
        return {
          browser,
          answer: await submitForm(browser, form, '/recovery/second-factor/recovery', { recovery_code: recoveryCode }),
        };
      };
      const first = await reset(recoveryCodes[0]!);
      const passwordPage = await landed(first.browser, first.answer);
      expect(isPage(passwordPage, PASSWORD_PAGE)).toBe(true);
      expect((await chooseNewPassword(first.browser, passwordPage, NEW_PASSWORD)).status).toBe(303);

      // The next reset of the account cannot use the same recovery code.
      const replay = await reset(recoveryCodes[0]!);
      expect(alertText(replay.answer.body)).toBe(en('errors.RECOVERY_CODE_WRONG'));
      expect(formAction(replay.answer.body, '/recovery/second-factor/recovery')).toBeDefined();
      const other = await submitForm(replay.browser, replay.answer, '/recovery/second-factor/recovery', {
        recovery_code: recoveryCodes[1]!,
      });
      expect(other.location).toBe(`${h.issuer}${PASSWORD_PAGE}`);
    });

    it('with Duo: Approve leads on, Deny is refused, and with Duo down a recovery code is offered', async () => {
      const { user, browser: console } = await signedInUser(h);
      const recoveryCodes = await enrollDuo(console, h.issuer, duo);
      const pressDuo = (browser: HttpClient, page: PageResponse) =>
        submitForm(browser, page, '/recovery/second-factor/duo', {});

      // Deny, then Approve, in one reset.
      const browser = englishBrowser();
      const secondFactor = await pastTheCode(browser, h.issuer, h.mail, user.email);
      expect(isPage(secondFactor, SECOND_FACTOR_PAGE)).toBe(true);
      expect(formAction(secondFactor.body, '/recovery/second-factor/totp')).toBeUndefined();
      const toDuo = await pressDuo(browser, secondFactor);
      expect(toDuo.location?.startsWith(`${duo.baseUrl}/oauth/v1/authorize?`)).toBe(true);
      const denied = await pressOnDuoPrompt(duo, toDuo.location!, 'deny');
      expect(denied.user).toBe(user.email);
      const refused = await browser.request(denied.back);
      expect(refused.status).toBe(401);
      expect(alertText(refused.body)).toBe(en('errors.DUO_DENIED'));
      expect(formAction(refused.body, '/recovery/second-factor/duo')).toBeDefined();
      expect((await open(browser, h.issuer, PASSWORD_PAGE)).location).toBe(`${h.issuer}${SECOND_FACTOR_PAGE}`);

      const approved = await pressOnDuoPrompt(duo, (await pressDuo(browser, refused)).location!, 'allow');
      const back = await browser.request(approved.back);
      expect(back.status).toBe(303);
      expect(back.location).toBe(`${h.issuer}${PASSWORD_PAGE}`);
      expect(isPage(await landed(browser, back), PASSWORD_PAGE)).toBe(true);

      // Duo down: said so, and the recovery-code form is right there.
      duo.healthy = false;
      const second = englishBrowser();
      const unavailable = await pressDuo(second, await pastTheCode(second, h.issuer, h.mail, user.email));
      expect(unavailable.location).toBeUndefined();
      expect(alertText(unavailable.body)).toBe(en('errors.DUO_UNAVAILABLE'));
      expect(formAction(unavailable.body, '/recovery/second-factor/recovery')).toBeDefined();
      const viaCode = await submitForm(second, unavailable, '/recovery/second-factor/recovery', {
        recovery_code: recoveryCodes[0]!,
      });
      expect(viaCode.location).toBe(`${h.issuer}${PASSWORD_PAGE}`);
      expect((await chooseNewPassword(second, await landed(second, viaCode), NEW_PASSWORD)).location).toBe(
        `${h.issuer}/account/login`,
      );
    });
  });

  it('ends every session and refresh token of the account and mails a notice', async () => {
    const { user, browser: console } = await signedInUser(h);
    const tokens = await rpSignIn(englishBrowser(), h.issuer, client, user.email, TEST_PASSWORD, {
      scope: 'openid offline_access',
      prompt: 'consent',
    });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect((await open(console, h.issuer, '/account')).status).toBe(200);

    const done = await resetByEmail(englishBrowser(), h.issuer, h.mail, user.email, NEW_PASSWORD);
    expect(done.location).toBe(`${h.issuer}/account/login`);

    await expectSentToLogin(console, h.issuer, await open(console, h.issuer, '/account'));
    const refreshed = await refresh(h.issuer, client, tokens.refresh_token!);
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
    expect(await isActive(h.issuer, client, tokens.access_token)).toBe(false);
    const mail = await h.mail.waitFor(user.email, (m) => m.subject === en('emails.passwordChanged.subject'));
    expect(mail.text).toContain(en('emails.passwordChanged.sessions'));
    expect(mail.text).toContain(`${h.issuer}/recovery`);
  });

  it("a reset started in another browser leaves the first one's working; starting again in the same browser ends its older one", async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const first = englishBrowser();
    const firstCodePage = await askForCode(first, await startReset(first, h.issuer, user.email), { channel: 'email' });
    const firstCode = await resetCodeByMail(h.mail, user.email);

    // Anyone may start a reset for the address; it does not end the first browser's.
    const second = englishBrowser();
    const secondMethod = await startReset(second, h.issuer, user.email);
    expect(isPage(secondMethod, '/recovery/method')).toBe(true);
    expect(isPage(await enterResetCode(first, firstCodePage, firstCode), PASSWORD_PAGE)).toBe(true);

    // A browser that never started one is sent to the start.
    const fresh = await open(englishBrowser(), h.issuer, SECOND_FACTOR_PAGE);
    expect(alertText(fresh.body)).toBe(en('errors.RESET_EXPIRED'));

    // Starting again in the second browser ends its older reset (a copy of its cookie finds it gone).
    const older = await cloneBrowser(second, `${h.issuer}/recovery/method`);
    const secondAgain = await startReset(second, h.issuer, user.email);
    for (const path of ['/recovery/method', CODE_PAGE, PASSWORD_PAGE]) {
      const page = await open(older, h.issuer, path);
      expect({ path, alert: alertText(page.body) }).toEqual({ path, alert: en('errors.RESET_EXPIRED') });
    }
    expect(formAction((await open(older, h.issuer, CODE_PAGE)).body, '/recovery')).toBe('/recovery');
    // The newer one goes on.
    const codePage = await askForCode(second, secondAgain, { channel: 'email' });
    expect(
      isPage(await enterResetCode(second, codePage, await resetCodeByMail(h.mail, user.email, 1)), PASSWORD_PAGE),
    ).toBe(true);
  });

  it('a finished reset cannot be replayed with its cookie', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = englishBrowser();
    const passwordPage = await pastTheCode(browser, h.issuer, h.mail, user.email);
    const copy = await cloneBrowser(browser, `${h.issuer}${PASSWORD_PAGE}`);
    expect((await chooseNewPassword(browser, passwordPage, NEW_PASSWORD)).location).toBe(`${h.issuer}/account/login`);

    const replayed = await chooseNewPassword(copy, passwordPage, OTHER_PASSWORD);
    expect(replayed.location).toBeUndefined();
    expect(alertText(replayed.body)).toBe(en('errors.RESET_EXPIRED'));
    expect(alertText((await open(copy, h.issuer, PASSWORD_PAGE)).body)).toBe(en('errors.RESET_EXPIRED'));
    expect(await logsIn(user.email, OTHER_PASSWORD)).toBe(false);
    expect(await logsIn(user.email, NEW_PASSWORD)).toBe(true);
  });

  it('speaks Japanese to a Japanese browser, and after ?lang=ja', async () => {
    const user = await registerUser(h.app, { locale: 'ja' });
    const browser = new HttpClient(JAPANESE);
    expect((await open(browser, h.issuer, '/recovery')).body).toContain(ja('recovery.heading'));
    const method = await startReset(browser, h.issuer, user.email);
    expect(method.body).toContain(ja('recovery.methodHeading'));
    expect(method.body).toContain(ja('recovery.bySms'));
    const codePage = await askForCode(browser, method, { channel: 'email' });
    expect(sentTo(codePage)).toBe(ja('recovery.codeSentEmail', { email: user.email }));
    const code = await resetCodeByMail(h.mail, user.email);
    expect(h.mail.mailsTo(user.email).find(isResetMail)!.subject).toBe(ja('emails.recoveryCode.subject'));
    const wrong = await enterResetCode(browser, codePage, code === '000000' ? '111111' : '000000');
    expect(alertText(wrong.body)).toBe(ja('errors.CODE_WRONG', { attempts: 4 }));

    const passwordPage = await enterResetCode(browser, codePage, code);
    expect(passwordPage.body).toContain(ja('recovery.passwordHeading'));
    const weak = await chooseNewPassword(browser, passwordPage, 'short');
    expect(formErrors(weak.body)).toContain(ja('errors.PASSWORD_TOO_SHORT'));
    const login = await landed(browser, await chooseNewPassword(browser, passwordPage, NEW_PASSWORD));
    expect(noticeText(login.body)).toBe(ja('account.passwordChangedNotice'));
    expect(alertText((await open(browser, h.issuer, CODE_PAGE)).body)).toBe(ja('errors.RESET_EXPIRED'));

    // An English browser that picks Japanese in the globe menu keeps it through the steps.
    const picked = englishBrowser();
    const start = await open(picked, h.issuer, '/recovery?lang=ja');
    expect(start.body).toContain(ja('recovery.heading'));
    expect(inputValue(start.body, 'lang')).toBe('ja');
    const pickedMethod = await landed(picked, await submitForm(picked, start, '/recovery', { email: user.email }));
    expect(pickedMethod.body).toContain(ja('recovery.methodHeading'));
    const pickedCode = await askForCode(picked, pickedMethod, { channel: 'email' });
    expect(sentTo(pickedCode)).toBe(ja('recovery.codeSentEmail', { email: user.email }));
  });

  it("keeps the language picked in the globe menu on its links, over the RP's ui_locales", async () => {
    const browser = englishBrowser();
    const auth = authorizationUrl(h.issuer, client.client_id, { ui_locales: 'en' });
    const uid = interactionUid(await browser.follow(auth.url));
    const start = await open(browser, h.issuer, `/recovery?interaction=${uid}&lang=ja`);
    expect(start.body).toContain(ja('recovery.heading'));
    const back = unescapeHtml(start.body.match(/href="([^"]*)" id="back-to-login"/)![1]!);
    const forgotEmail = unescapeHtml(start.body.match(/href="([^"]*)" id="forgot-email"/)![1]!);
    expect((await browser.follow(`${h.issuer}${back}`)).body).toContain(ja('login.heading'));
    expect((await open(browser, h.issuer, forgotEmail)).body).toContain(ja('forgotEmail.heading'));
  });

  it("refuses every form without this browser's CSRF token and sends nothing", async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = englishBrowser();
    const method = await startReset(browser, h.issuer, user.email);
    const strangerToken = csrfOf((await open(englishBrowser(), h.issuer, '/recovery')).body);
    const forms: Record<string, Record<string, string>> = {
      '/recovery': { email: user.email },
      '/recovery/method': { channel: 'email', country: 'JP', number: '' },
      '/recovery/code': { code: '123456' },
      '/recovery/resend': {},
      '/recovery/second-factor/totp': { code: '123456' },
      '/recovery/second-factor/recovery': { recovery_code: 'ABCDE-12345' },
      '/recovery/second-factor/duo': {},
      '/recovery/password': { password: NEW_PASSWORD, password_confirmation: NEW_PASSWORD },
    };
    for (const [path, fields] of Object.entries(forms)) {
      for (const [what, csrf] of [
        ['missing', undefined],
        ['forged', 'abc-123'],
        ["another browser's", strangerToken],
      ] as const) {
        const res = await browser.request(`${h.issuer}${path}`, {
          method: 'POST',
          form: { ...fields, ...(csrf === undefined ? {} : { _csrf: csrf }) },
        });
        expect({ path, what, status: res.status }).toEqual({ path, what, status: 403 });
        expect(alertText(res.body)).toBe(en('errors.CSRF_FAILED'));
        expectNoInternals(res);
      }
    }
    expect(await outboxFor(h.app, user.email)).toEqual([]);
    // The browser's own reset was not disturbed: its real form works.
    const codePage = await askForCode(browser, method, { channel: 'email' });
    expect(isPage(codePage, CODE_PAGE)).toBe(true);
    await resetCodeByMail(h.mail, user.email);
  });

  it('shows every broken rule of a weak password and keeps the reset; a just-set password is no obstacle', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    // The password was changed moments ago: a console change would be refused for its minimum age.
    await h.app.db.updateTable('accounts').set({ password_changed_at: new Date() }).where('id', '=', user.id).execute();
    expect(h.app.config.passwordPolicy.minAgeSeconds).toBeGreaterThan(0);
    const browser = englishBrowser();
    const passwordPage = await pastTheCode(browser, h.issuer, h.mail, user.email);

    const weak = await chooseNewPassword(browser, passwordPage, 'short', 'other');
    expect(weak.status).toBe(400);
    expect(formErrors(weak.body)).toEqual(
      expect.arrayContaining([
        en('errors.PASSWORD_TOO_SHORT'),
        en('errors.PASSWORD_NEEDS_UPPER'),
        en('errors.PASSWORD_NEEDS_DIGIT'),
        en('errors.PASSWORD_NEEDS_SYMBOL'),
        en('errors.PASSWORD_MISMATCH'),
      ]),
    );
    expect(weak.body).toMatch(/id="password"[^>]*aria-invalid="true"/);
    expect(weak.body).not.toContain('value="short"');
    expect(formAction(weak.body, PASSWORD_PAGE)).toBeDefined();

    const reused = await chooseNewPassword(browser, weak, TEST_PASSWORD);
    expect(formErrors(reused.body)).toEqual([en('errors.PASSWORD_IN_HISTORY')]);
    expect(await logsIn(user.email, TEST_PASSWORD)).toBe(true);

    const done = await chooseNewPassword(browser, reused, NEW_PASSWORD);
    expect(done.status).toBe(303);
    expect(done.location).toBe(`${h.issuer}/account/login`);
    expect(await logsIn(user.email, NEW_PASSWORD)).toBe(true);
  });
});
