/**
 * PR6: the mobile number, against a Twilio-compatible fake on loopback. Numbers are checked and
 * stored in E.164, and count only once the code sent to them by SMS comes back; removing or
 * changing the number re-confirms the password.
 */
import {
  accountRow,
  asksForPassword,
  auditTypes,
  csrfOf,
  ENGLISH,
  jpMobile,
  landed,
  open,
  openAndSubmit,
  rpSignIn,
  signedInUser,
  shownPhone,
  signInToAccount,
  SMS_FROM,
  smsCode,
  startAccountHarness,
  textOf,
  userinfo,
  type AccountHarness,
} from '../../helpers/account.js';
import { en, registerClient, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { expectNoInternals, formAction, HttpClient, submitForm, type PageResponse } from '../../helpers/http-client.js';
import { formErrors, noticeText } from '../../helpers/signup-pages.js';

const PHONE_PAGE = '/account/security/phone';
const VERIFY_PAGE = '/account/security/phone/verify';

/** A confirmation that is over (spent, expired, never started) shows the number form again, with why. */
function expectRestarted(page: PageResponse): void {
  expect(page.status).toBe(200);
  expect(formErrors(page.body)).toEqual([en('errors.PHONE_VERIFICATION_EXPIRED')]);
  expect(formAction(page.body, PHONE_PAGE)).toBe(PHONE_PAGE);
  expect(page.body).not.toContain('id="code"');
}
const SMS_PER_ACCOUNT = 3;

describe('account console: mobile number (PR6)', () => {
  let h: AccountHarness;
  beforeAll(async () => {
    h = await startAccountHarness({ account: { smsPerAccount: { points: SMS_PER_ACCOUNT, durationSeconds: 3600 } } });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Step 1: the number (and the password, the first time). Answers the form's submission. */
  function submitNumber(
    browser: HttpClient,
    country: string,
    number: string,
    password: string | undefined = TEST_PASSWORD,
  ) {
    return openAndSubmit(browser, h.issuer, PHONE_PAGE, PHONE_PAGE, {
      ...(password ? { current_password: password } : {}),
      country,
      number,
    });
  }

  /** Step 2: the code on the verify page. */
  async function enterCode(browser: HttpClient, code: string): Promise<PageResponse> {
    return openAndSubmit(browser, h.issuer, VERIFY_PAGE, VERIFY_PAGE, { code });
  }

  /** Adds and confirms `number` through both steps; returns the security page it lands on. */
  async function addNumber(browser: HttpClient, number: { national: string; e164: string }): Promise<PageResponse> {
    const started = await submitNumber(browser, 'JP', number.national);
    expect(started.location).toBe(`${h.issuer}${VERIFY_PAGE}`);
    const code = smsCode(await h.sms.waitFor(number.e164));
    const confirmed = await enterCode(browser, code);
    expect(confirmed.location).toBe(`${h.issuer}/account/security?done=phone-added`);
    return landed(browser, confirmed);
  }

  it('refuses numbers that are not valid mobile numbers, with their messages, and sends nothing', async () => {
    const { user, browser } = await signedInUser(h);
    const form = await open(browser, h.issuer, PHONE_PAGE);
    expect(form.body).toContain(en('account.phone.why'));
    // The country code menu names countries with their calling codes; Japan by default, and only
    // the countries texts may go to (sms.allowedCountries: JP in the default configuration).
    expect(form.body).toMatch(/<option value="JP" selected>Japan \(\+81\)<\/option>/);
    expect(form.body).not.toMatch(/<option value="US"/);

    const cases: { country: string; number: string; error: string }[] = [
      { country: 'JP', number: '', error: 'PHONE_REQUIRED' },
      { country: 'JP', number: 'abcdefghij', error: 'PHONE_INVALID' },
      { country: 'JP', number: '090', error: 'PHONE_INVALID' },
      { country: 'JP', number: '090-1234-56789012', error: 'PHONE_INVALID' },
      // A Tokyo fixed line cannot receive text messages.
      { country: 'JP', number: '03-1234-5678', error: 'PHONE_NOT_MOBILE' },
      { country: 'JP', number: '+81 3-1234-5678', error: 'PHONE_NOT_MOBILE' },
      // A Japanese mobile number read as a US number is not a number at all.
      { country: 'US', number: '090-1234-5678', error: 'PHONE_INVALID' },
      { country: 'ZZ', number: '090-1234-5678', error: 'PHONE_INVALID' },
      { country: 'JP', number: `090${'1'.repeat(200)}`, error: 'PHONE_INVALID' },
    ];
    for (const { country, number, error } of cases) {
      const answer = await submitNumber(browser, country, number);
      expect({ number, status: answer.status, errors: formErrors(answer.body) }).toEqual({
        number,
        status: 400,
        errors: [en(`errors.${error}`)],
      });
      expectNoInternals(answer);
      // The typed number stays in the form to be corrected.
      if (number && number.length < 40) expect(answer.body).toContain(`value="${number}"`);
    }
    expect(h.sms.requests).toEqual([]);
    expect(await h.app.db.selectFrom('flows').select('id').where('account_id', '=', user.id).execute()).toEqual([]);
    const row = await accountRow(h.app, user.id);
    expect(row.phone_number).toBeNull();
    expect(row.phone_number_verified).toBe(false);
  });

  it('sends a code by SMS to the E.164 number, refuses a wrong code, and registers the number with the right one', async () => {
    const { user, browser } = await signedInUser(h);
    const security = await open(browser, h.issuer, '/account/security');
    expect(security.body).toContain(en('account.security.phoneNone'));
    expect(security.body).toContain('id="add-phone"');

    const started = await submitNumber(browser, 'JP', '090-1234-5678');
    expect(started.status).toBe(303);
    const verify = await landed(browser, started);
    expect(verify.url).toBe(`${h.issuer}${VERIFY_PAGE}`);
    expect(verify.body).toContain(en('account.phone.verifyIntro', { phone: '+81 90 1234 5678' }));

    const sms = await h.sms.waitFor('+819012345678');
    expect(sms.from).toBe(SMS_FROM);
    const code = smsCode(sms);
    expect(sms.body).toBe(en('sms.phoneVerification', { code, minutes: 10 }));
    // Not registered before the code comes back.
    expect((await accountRow(h.app, user.id)).phone_number).toBeNull();
    expect((await open(browser, h.issuer, '/account/security')).body).toContain(en('account.security.phoneNone'));

    // An empty entry asks for the code from the text message (and costs no try).
    const empty = await enterCode(browser, ' ');
    expect(empty.status).toBe(400);
    expect(formErrors(empty.body)).toEqual([en('errors.SMS_CODE_REQUIRED')]);
    const wrongCode = code === '000000' ? '111111' : '000000';
    const wrong = await enterCode(browser, wrongCode);
    expect(wrong.status).toBe(400);
    expect(formErrors(wrong.body)).toEqual([en('errors.CODE_WRONG', { attempts: 4 })]);
    const again = await enterCode(browser, wrongCode);
    expect(formErrors(again.body)).toEqual([en('errors.CODE_WRONG', { attempts: 3 })]);
    expect((await accountRow(h.app, user.id)).phone_number).toBeNull();

    const confirmed = await enterCode(browser, code);
    expect(confirmed.status).toBe(303);
    const done = await landed(browser, confirmed);
    expect(noticeText(done.body)).toBe(en('account.done.phone-added'));
    expect(textOf(done.body, 'phone-number')).toBe('+81 90 1234 5678');
    expect(shownPhone(done.body)).toBe('+819012345678');

    const row = await accountRow(h.app, user.id);
    expect(row.phone_number).toBe('+819012345678');
    expect(row.phone_number_verified).toBe(true);
    expect(await auditTypes(h.app, user.id)).toContain('phone.added');
    // The code is spent: the verify page starts over at the number form, saying why (like every flow).
    expectRestarted(await open(browser, h.issuer, VERIFY_PAGE));

    // An app allowed the phone scope reads the verified number at userinfo.
    const client = await registerClient(h.app);
    const tokens = await rpSignIn(new HttpClient(ENGLISH), h.issuer, client, user.email, TEST_PASSWORD, {
      scope: 'openid phone',
    });
    const info = await userinfo(h.issuer, tokens.access_token);
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ sub: user.id, phone_number: '+819012345678', phone_number_verified: true });
  });

  it('replaces the number only once the new one is confirmed, and removing re-confirms the password', async () => {
    const { user, browser } = await signedInUser(h);
    const first = jpMobile();
    await addNumber(browser, first);

    // A second number: until its code comes back, the first one stays.
    const second = jpMobile();
    const started = await submitNumber(browser, 'JP', second.national, undefined);
    expect(started.location).toBe(`${h.issuer}${VERIFY_PAGE}`);
    const code = smsCode(await h.sms.waitFor(second.e164));
    expect((await accountRow(h.app, user.id)).phone_number).toBe(first.e164);
    expect(shownPhone((await open(browser, h.issuer, '/account/security')).body)).toBe(first.e164);
    const confirmed = await enterCode(browser, code);
    expect(shownPhone((await landed(browser, confirmed)).body)).toBe(second.e164);
    expect((await accountRow(h.app, user.id)).phone_number).toBe(second.e164);

    // Removing it from a browser that has not re-entered the password asks for it.
    const other = new HttpClient(ENGLISH);
    await signInToAccount(other, h.issuer, user.email);
    const security = await open(other, h.issuer, '/account/security');
    expect(security.body).toContain('action="/account/security/reauth"');
    const missing = await submitForm(other, security, '/account/security/phone/remove', {});
    expect(missing.status).toBe(400);
    expect(formErrors(missing.body)).toEqual([en('errors.REAUTH_REQUIRED')]);
    const wrong = await submitForm(other, security, '/account/security/phone/remove', {
      current_password: 'Wrong-Password-1!',
    });
    expect(wrong.status).toBe(401);
    expect(formErrors(wrong.body)).toEqual([en('errors.CURRENT_PASSWORD_WRONG')]);
    expect(shownPhone(wrong.body)).toBe(second.e164);
    expect((await accountRow(h.app, user.id)).phone_number).toBe(second.e164);

    const removed = await submitForm(other, security, '/account/security/phone/remove', {
      current_password: TEST_PASSWORD,
    });
    expect(removed.location).toBe(`${h.issuer}/account/security?done=phone-removed`);
    const page = await landed(other, removed);
    expect(noticeText(page.body)).toBe(en('account.done.phone-removed'));
    expect(page.body).toContain(en('account.security.phoneNone'));
    expect(page.body).not.toContain(second.e164);
    const row = await accountRow(h.app, user.id);
    expect(row.phone_number).toBeNull();
    expect(row.phone_number_verified).toBe(false);
    expect(await auditTypes(h.app, user.id)).toEqual(expect.arrayContaining(['phone.added', 'phone.removed']));
  });

  it('a newer request makes the code of an older one useless', async () => {
    const { user, browser } = await signedInUser(h);
    const first = jpMobile();
    await submitNumber(browser, 'JP', first.national);
    const oldCode = smsCode(await h.sms.waitFor(first.e164));
    const second = jpMobile();
    await submitNumber(browser, 'JP', second.national, undefined);
    const newCode = smsCode(await h.sms.waitFor(second.e164));
    expect((await open(browser, h.issuer, VERIFY_PAGE)).body).toContain(second.shown);

    if (oldCode !== newCode) {
      const stale = await enterCode(browser, oldCode);
      expect(formErrors(stale.body)).toEqual([en('errors.CODE_WRONG', { attempts: 4 })]);
    }
    await landed(browser, await enterCode(browser, newCode));
    expect((await accountRow(h.app, user.id)).phone_number).toBe(second.e164);
  });

  it('limits the text messages sent for one account', async () => {
    const { user, browser } = await signedInUser(h);
    const sent: string[] = [];
    for (let i = 0; i < SMS_PER_ACCOUNT; i += 1) {
      const number = jpMobile();
      const started = await submitNumber(browser, 'JP', number.national, i === 0 ? TEST_PASSWORD : undefined);
      expect(started.status).toBe(303);
      await h.sms.waitFor(number.e164);
      sent.push(number.e164);
    }
    const number = jpMobile();
    const refused = await submitNumber(browser, 'JP', number.national, undefined);
    expect(refused.status).toBe(429);
    expect(formErrors(refused.body)).toEqual([en('errors.TOO_MANY_ATTEMPTS', { minutes: 60 })]);
    expectNoInternals(refused);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(h.sms.messagesTo(number.e164)).toEqual([]);
    expect((await accountRow(h.app, user.id)).phone_number).toBeNull();

    // Another account is not affected.
    const { browser: neighbour } = await signedInUser(h);
    const theirs = jpMobile();
    expect((await submitNumber(neighbour, 'JP', theirs.national)).status).toBe(303);
    await h.sms.waitFor(theirs.e164);
  });

  it('the verify page cannot be used without a started change', async () => {
    const { browser } = await signedInUser(h);
    expectRestarted(await open(browser, h.issuer, VERIFY_PAGE));
    const form = await open(browser, h.issuer, PHONE_PAGE);
    const posted = await browser.request(`${h.issuer}${VERIFY_PAGE}`, {
      form: { _csrf: csrfOf(form.body), code: '123456' },
    });
    expectRestarted(posted);
    expect(asksForPassword(form.body)).toBe(true);
  });
});
