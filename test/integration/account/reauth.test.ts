/**
 * PR3: every security change asks for the current password again; a right one counts for
 * account.reauthSeconds in this session only, and wrong ones are throttled like logins.
 */
import {
  asksForPassword,
  auditTypes,
  ENGLISH,
  jpMobile,
  landed,
  open,
  openAndSubmit,
  signedInUser,
  signInToAccount,
  startAccountHarness,
  type AccountHarness,
} from '../../helpers/account.js';
import { en, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { expectNoInternals, HttpClient, hiddenInputs, submitForm } from '../../helpers/http-client.js';
import { formErrors } from '../../helpers/signup-pages.js';

const PHONE_PAGE = '/account/security/phone';
const REAUTH_SECONDS = 4;

/** The mobile-number form with a number it refuses (nothing is sent), and `password` if given. */
function phoneAttempt(browser: HttpClient, issuer: string, password?: string) {
  return openAndSubmit(browser, issuer, PHONE_PAGE, PHONE_PAGE, {
    ...(password === undefined ? {} : { current_password: password }),
    country: 'JP',
    number: 'abc',
  });
}

describe('account console: re-authentication (PR3)', () => {
  describe('within account.reauthSeconds', () => {
    let h: AccountHarness;
    beforeAll(async () => {
      h = await startAccountHarness();
    });
    afterAll(async () => {
      await h?.close();
    });

    it('asks for the password on every security form until one accepts it, then no more', async () => {
      const { browser } = await signedInUser(h);
      const security = await open(browser, h.issuer, '/account/security');
      expect(security.body).toContain(en('account.security.reauthIntro', { minutes: 5 }));
      expect(asksForPassword(security.body)).toBe(true);
      expect(asksForPassword((await open(browser, h.issuer, PHONE_PAGE)).body)).toBe(true);

      // Without the password nothing is looked at.
      const missing = await phoneAttempt(browser, h.issuer);
      expect(missing.status).toBe(400);
      expect(formErrors(missing.body)).toEqual([en('errors.PASSWORD_REQUIRED')]);

      // The right password: only the number's problem remains, and the page stops asking.
      const right = await phoneAttempt(browser, h.issuer, TEST_PASSWORD);
      expect(formErrors(right.body)).toEqual([en('errors.PHONE_INVALID')]);
      expect(asksForPassword(right.body)).toBe(false);
      expect(asksForPassword((await open(browser, h.issuer, PHONE_PAGE)).body)).toBe(false);
      expect(asksForPassword((await open(browser, h.issuer, '/account/security')).body)).toBe(false);

      // Another security form goes through without it.
      const number = jpMobile();
      const started = await openAndSubmit(browser, h.issuer, PHONE_PAGE, PHONE_PAGE, {
        country: 'JP',
        number: number.national,
      });
      expect(started.status).toBe(303);
      expect(started.location).toBe(`${h.issuer}/account/security/phone/verify`);
      await h.sms.waitFor(number.e164);
    });

    it('counts only in the session that entered it', async () => {
      const { user, browser } = await signedInUser(h);
      await phoneAttempt(browser, h.issuer, TEST_PASSWORD);
      expect(asksForPassword((await open(browser, h.issuer, PHONE_PAGE)).body)).toBe(false);

      // A second browser of the same account still has to type it.
      const other = new HttpClient(ENGLISH);
      await signInToAccount(other, h.issuer, user.email);
      expect(asksForPassword((await open(other, h.issuer, PHONE_PAGE)).body)).toBe(true);
      const attempt = await phoneAttempt(other, h.issuer);
      expect(formErrors(attempt.body)).toEqual([en('errors.PASSWORD_REQUIRED')]);
    });

    it('throttles wrong passwords like logins: after 5, even the right one is refused for a while', async () => {
      const { user, browser } = await signedInUser(h);
      for (let i = 0; i < 5; i += 1) {
        const wrong = await phoneAttempt(browser, h.issuer, `Wrong-Password-${i}!`);
        expect(wrong.status).toBe(401);
        expect(formErrors(wrong.body)).toEqual([en('errors.CURRENT_PASSWORD_WRONG')]);
      }
      const blocked = await phoneAttempt(browser, h.issuer, TEST_PASSWORD);
      expect(blocked.status).toBe(429);
      expect(formErrors(blocked.body)).toEqual([en('errors.TOO_MANY_ATTEMPTS', { minutes: 15 })]);
      expect(asksForPassword(blocked.body)).toBe(true);
      expectNoInternals(blocked);
      expect((await auditTypes(h.app, user.id)).filter((type) => type === 'reauth.failed')).toHaveLength(5);
      // Nothing sent, and the browser is still signed in.
      expect(await h.app.db.selectFrom('flows').select('id').where('account_id', '=', user.id).execute()).toEqual([]);
      expect((await open(browser, h.issuer, '/account')).status).toBe(200);
    });
  });

  describe('once account.reauthSeconds has passed', () => {
    let h: AccountHarness;
    beforeAll(async () => {
      // Long enough that a loaded CI machine still reads the page within it; the test waits it out.
      h = await startAccountHarness({ account: { reauthSeconds: REAUTH_SECONDS } });
    });
    afterAll(async () => {
      await h?.close();
    });

    it('asks for the password again', async () => {
      const { browser } = await signedInUser(h);
      const enteredAt = Date.now();
      const right = await phoneAttempt(browser, h.issuer, TEST_PASSWORD);
      expect(asksForPassword(right.body)).toBe(false);
      // What the browser could send now, kept to replay after the expiry as a careless browser would.
      const form = await open(browser, h.issuer, PHONE_PAGE);
      expect(asksForPassword(form.body)).toBe(false);
      const staleCookies = await browser.jar.getCookieString(`${h.issuer}${PHONE_PAGE}`);
      expect(staleCookies).toContain('monban_reauth=');

      const expiresIn = enteredAt + REAUTH_SECONDS * 1000 + 500 - Date.now();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresIn)));

      const again = await open(browser, h.issuer, PHONE_PAGE);
      expect(asksForPassword(again.body)).toBe(true);
      const missing = await submitForm(browser, again, PHONE_PAGE, { country: 'JP', number: jpMobile().national });
      expect(missing.status).toBe(400);
      expect(formErrors(missing.body)).toEqual([en('errors.PASSWORD_REQUIRED')]);

      // Replaying the old re-authentication cookie does not help: the server checks its age.
      const replay = await fetch(`${h.issuer}${PHONE_PAGE}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'accept-language': 'en', cookie: staleCookies, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          ...hiddenInputs(form.body, PHONE_PAGE),
          country: 'JP',
          number: jpMobile().national,
        }),
      });
      expect(replay.status).toBe(400);
      expect(formErrors(await replay.text())).toEqual([en('errors.PASSWORD_REQUIRED')]);
      expect(h.sms.messages).toEqual([]);

      // The password once more, and it counts again.
      const number = jpMobile();
      const started = await submitForm(browser, again, PHONE_PAGE, {
        current_password: TEST_PASSWORD,
        country: 'JP',
        number: number.national,
      });
      expect(started.status).toBe(303);
      expect((await landed(browser, started)).body).toContain(number.shown);
    });
  });
});
