/**
 * Sign-up with email activation (issue 3, C1-C3) through the real pages, PostgreSQL, Redis and a
 * real SMTP server on loopback: the code in the mail is what activates an account.
 */
import { startTestApp, type TestApp } from '../../helpers/app.js';
import {
  authorizationUrl,
  exchangeCode,
  messageText,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import {
  alertText,
  formAction,
  HttpClient,
  inputValue,
  loginThroughPages,
  submitForm,
  type PageResponse,
} from '../../helpers/http-client.js';
import { jwtPayload } from '../../helpers/rp.js';
import {
  accountsFor,
  cloneBrowser,
  enterCode,
  expectNoInternals,
  formErrors,
  newAddress,
  noticeText,
  openSignUp,
  outboxFor,
  outboxSettled,
  pageShape,
  pressResend,
  signUp,
  signUpFields,
  SIGNUP_PASSWORD,
} from '../../helpers/signup-pages.js';
import { codeIn, MailCatcher, type CaughtMail } from '../../helpers/smtp.js';
import { emailChangeOf } from '../../../src/app.js';
import { addressChanger } from '../../../src/identity/companies/email-change.js';

const english = () => new HttpClient({ 'accept-language': 'en' });
const MAIL = (catcher: MailCatcher) => ({ mail: { smtpUrl: catcher.url, from: 'Monban <no-reply@monban.test>' } });

/** A code that is certainly not `code`. */
const otherThan = (code: string) => (code === '000000' ? '111111' : '000000');

describe('sign-up with email activation', () => {
  let t: TestApp;
  const catcher = new MailCatcher();

  beforeAll(async () => {
    await catcher.start();
    t = await startTestApp({
      overrides: { ...MAIL(catcher), registration: { perIp: { points: 1000, durationSeconds: 3600 } } },
    });
  });
  afterAll(async () => {
    await t?.close();
    await catcher.stop();
  });

  /** Registers `email` in `browser` and returns the activation page and the mail that followed. */
  async function register(
    browser: HttpClient,
    email: string,
    changes: Record<string, string> = {},
  ): Promise<{ verify: PageResponse; mail: CaughtMail }> {
    const before = catcher.mailsTo(email).length;
    const res = await signUp(browser, t.issuer, signUpFields(email, changes));
    expect(res.status).toBe(303);
    expect(new URL(res.location!).pathname).toBe('/signup/verify');
    const verify = await browser.follow(res.location!);
    expect(verify.status).toBe(200);
    await catcher.waitFor(email, () => catcher.mailsTo(email).length > before);
    return { verify, mail: catcher.mailsTo(email)[before]! };
  }

  /** Waits until no mail is in flight, then returns every mail `email` received. */
  async function settledMailsTo(email: string): Promise<CaughtMail[]> {
    await outboxSettled(t.app);
    return catcher.mailsTo(email);
  }

  const codeMessage = (key: string, attempts?: number) =>
    messageText('en', `errors.${key}`, attempts === undefined ? {} : { attempts });

  describe('the activation mail to an address nobody has verified yet', () => {
    // Anyone can type anyone's address: whatever else they type must not reach that inbox.
    const typed = { given_name: 'Visit evil.example now', family_name: 'Call 0120-000-000' };
    const expectNothingTyped = (mail: CaughtMail) => {
      for (const part of [mail.subject, mail.text, mail.html]) {
        expect(part).not.toContain('evil.example');
        expect(part).not.toContain('0120-000-000');
        expect(part).not.toContain('Visit');
      }
    };

    it('holds nothing typed on the form, in the first mail and after "send a new code"', async () => {
      const browser = english();
      const email = newAddress();
      const { verify, mail } = await register(browser, email, typed);
      expectNothingTyped(mail);
      expect(mail.text.startsWith(messageText('en', 'emails.greetingUnverified'))).toBe(true);

      await pressResend(browser, verify);
      await catcher.waitFor(email, () => catcher.mailsTo(email).length > 1);
      expectNothingTyped(catcher.mailsTo(email)[1]!);
    });

    it('keeps the code out of the subject (lock screens, previews and mail logs show subjects)', async () => {
      const email = newAddress();
      const { mail } = await register(new HttpClient({ 'accept-language': 'ja' }), email);
      const code = codeIn(mail);
      expect(mail.subject).toBe(messageText('ja', 'emails.activation.subject'));
      expect(mail.subject).not.toContain(code);
      expect(mail.text).toContain(code);
      expect(mail.text).toContain(messageText('ja', 'emails.greetingUnverified'));
    });
  });

  describe('registration and the activation code', () => {
    it('creates a pending account and sends exactly one mail with a 6-digit code', async () => {
      const browser = english();
      const email = newAddress();
      const { verify, mail } = await register(browser, email);

      expect(verify.body).toContain(messageText('en', 'signup.verifyIntro', { email }));
      const code = codeIn(mail);
      expect(code).toMatch(/^\d{6}$/);
      expect(mail.subject).toBe(messageText('en', 'emails.activation.subject'));
      expect(mail.raw.from?.value).toEqual([{ name: 'Monban', address: 'no-reply@monban.test' }]);
      expect(mail.text).toContain(messageText('en', 'emails.greetingUnverified'));
      expect(mail.html).toContain(code);
      expect(await settledMailsTo(email)).toHaveLength(1);

      const [account, ...others] = await accountsFor(t.app, email);
      expect(others).toHaveLength(0);
      expect(account).toMatchObject({
        status: 'pending',
        email_verified: false,
        given_name: 'Aiko',
        family_name: 'Tanaka',
        country: 'JP',
        locale: 'en',
        partner: false,
      });
      expect(account!.password_hash).not.toContain(SIGNUP_PASSWORD);
      expect(await t.app.hasher.verify(SIGNUP_PASSWORD, account!.password_hash!)).toBe(true);
    });

    it('activates with the code once: a second use starts the form again and changes nothing', async () => {
      const browser = english();
      const email = newAddress();
      const { verify, mail } = await register(browser, email);
      const code = codeIn(mail);
      const replay = await cloneBrowser(browser, `${t.issuer}/signup/verify`);

      const done = await enterCode(browser, verify, code);
      expect(done.status).toBe(200);
      expect(done.body).toContain(messageText('en', 'signup.activatedHeading'));
      expect(noticeText(done.body)).toBe(messageText('en', 'signup.activatedBody', { email }));
      const [account] = await accountsFor(t.app, email);
      expect(account).toMatchObject({ status: 'active', email_verified: true });

      const audit = await t.app.db
        .selectFrom('audit_events')
        .selectAll()
        .where('type', '=', 'account.activated')
        .where('account_id', '=', account!.id)
        .execute();
      expect(audit).toHaveLength(1);
      expect(JSON.stringify(audit[0])).not.toContain(code);

      // The same code again, from a copy of the browser that still holds the finished flow...
      const again = await enterCode(replay, verify, code);
      // ...and from the browser itself, whose flow is over.
      const afterwards = await enterCode(browser, verify, code);
      for (const res of [again, afterwards]) {
        expect(res.status).toBe(200);
        expect(formErrors(res.body)).toEqual([messageText('en', 'errors.FLOW_EXPIRED')]);
        expect(formAction(res.body, '/signup')).toBe('/signup');
        expectNoInternals(res);
      }
      const [after] = await accountsFor(t.app, email);
      expect(after).toMatchObject({ status: 'active', email_verified: true, password_hash: account!.password_hash });
      expect(
        await t.app.db
          .selectFrom('audit_events')
          .select('id')
          .where('type', '=', 'account.activated')
          .where('account_id', '=', account!.id)
          .execute(),
      ).toHaveLength(1);
    });

    it('activates once when the right code is submitted twice at the same time', async () => {
      const browser = english();
      const email = newAddress();
      const { verify, mail } = await register(browser, email);
      const code = codeIn(mail);
      const twin = await cloneBrowser(browser, `${t.issuer}/signup/verify`);
      const answers = await Promise.all([enterCode(browser, verify, code), enterCode(twin, verify, code)]);
      const activated = answers.filter((res) => res.body.includes(messageText('en', 'signup.activatedHeading')));
      expect(activated).toHaveLength(1);
      const other = answers.find((res) => !activated.includes(res))!;
      expect(formErrors(other.body)).toEqual([messageText('en', 'errors.FLOW_EXPIRED')]);
      const [account] = await accountsFor(t.app, email);
      expect(
        await t.app.db
          .selectFrom('audit_events')
          .select('id')
          .where('type', '=', 'account.activated')
          .where('account_id', '=', account!.id)
          .execute(),
      ).toHaveLength(1);
    });

    it('refuses wrong codes with the tries left, then needs a new code even for the right one', async () => {
      const browser = english();
      const email = newAddress();
      const { verify, mail } = await register(browser, email);
      const code = codeIn(mail);
      const wrong = otherThan(code);

      for (const left of [4, 3, 2, 1]) {
        const res = await enterCode(browser, verify, wrong);
        expect(res.status).toBe(400);
        expect(alertText(res.body)).toBe(codeMessage('CODE_WRONG', left));
        expect(res.body).toContain(messageText('en', 'signup.verifyIntro', { email }));
      }
      const fifth = await enterCode(browser, verify, wrong);
      expect(fifth.status).toBe(400);
      expect(alertText(fifth.body)).toBe(codeMessage('CODE_EXHAUSTED'));

      // The right code no longer helps: five wrong tries used it up.
      const right = await enterCode(browser, verify, code);
      expect(alertText(right.body)).toBe(codeMessage('CODE_EXHAUSTED'));
      expect((await accountsFor(t.app, email))[0]).toMatchObject({ status: 'pending' });

      // "Send a new code" mails a fresh one, and that one works.
      const resent = await pressResend(browser, verify);
      expect(resent.status).toBe(303);
      const page = await browser.follow(resent.location!);
      expect(noticeText(page.body)).toBe(messageText('en', 'signup.codeResent'));
      await catcher.waitFor(email, () => catcher.mailsTo(email).length === 2);
      const fresh = codeIn(catcher.mailsTo(email)[1]!);
      const done = await enterCode(browser, page, fresh);
      expect(done.body).toContain(messageText('en', 'signup.activatedHeading'));
      expect((await accountsFor(t.app, email))[0]).toMatchObject({ status: 'active', email_verified: true });
    });

    it('asks for the code when the field is empty, without using up a try', async () => {
      const browser = english();
      const email = newAddress();
      const { verify, mail } = await register(browser, email);
      for (const empty of ['', '   ']) {
        const res = await enterCode(browser, verify, empty);
        expect(res.status).toBe(400);
        expect(alertText(res.body)).toBe(codeMessage('CODE_REQUIRED'));
      }
      const wrong = await enterCode(browser, verify, otherThan(codeIn(mail)));
      expect(alertText(wrong.body)).toBe(codeMessage('CODE_WRONG', 4));
    });

    it('accepts the code typed with spaces or full-width digits', async () => {
      const browser = english();
      const email = newAddress();
      const { verify, mail } = await register(browser, email);
      const code = codeIn(mail);
      const typed = ` ${code.slice(0, 3)} ${Array.from(code.slice(3))
        .map((d) => String.fromCharCode(0xff10 + Number(d)))
        .join('')} `;
      const done = await enterCode(browser, verify, typed);
      expect(done.body).toContain(messageText('en', 'signup.activatedHeading'));
    });
  });

  describe('resend and start again', () => {
    it('"Send a new code" mails a new code and the old one stops working', async () => {
      const browser = english();
      const email = newAddress();
      const { verify, mail } = await register(browser, email);
      const oldCode = codeIn(mail);

      const resent = await pressResend(browser, verify);
      expect(resent.status).toBe(303);
      await catcher.waitFor(email, () => catcher.mailsTo(email).length === 2);
      const newCode = codeIn(catcher.mailsTo(email)[1]!);
      expect(await settledMailsTo(email)).toHaveLength(2);
      const page = await browser.follow(resent.location!);

      const old = await enterCode(browser, page, oldCode);
      expect(old.status).toBe(400);
      expect(alertText(old.body)).toBe(codeMessage('CODE_WRONG', 4));
      const done = await enterCode(browser, page, newCode);
      expect(done.body).toContain(messageText('en', 'signup.activatedHeading'));
    });

    it('registering the same address again supersedes the first attempt: one account, only the new code works', async () => {
      const browser = english();
      const email = newAddress();
      const first = await register(browser, email);
      const firstCode = codeIn(first.mail);
      const firstTab = await cloneBrowser(browser, `${t.issuer}/signup/verify`);

      // "Start again" leads back to the empty form.
      const restart = await browser.request(
        new URL(first.verify.body.match(/href="([^"]*)" id="restart"/)![1]!, t.issuer).toString(),
      );
      expect(restart.status).toBe(303);
      expect(new URL(restart.location!).pathname).toBe('/signup');
      const second = await register(browser, email, { given_name: 'Aiko-2' });
      const secondCode = codeIn(second.mail);

      // The first attempt's page is over: its flow was superseded.
      const stale = await enterCode(firstTab, first.verify, firstCode);
      expect(formErrors(stale.body)).toEqual([messageText('en', 'errors.FLOW_EXPIRED')]);
      // The first code is not valid for the new attempt either.
      const wrong = await enterCode(browser, second.verify, firstCode);
      expect(alertText(wrong.body)).toBe(codeMessage('CODE_WRONG', 4));
      const done = await enterCode(browser, second.verify, secondCode);
      expect(done.body).toContain(messageText('en', 'signup.activatedHeading'));

      const accounts = await accountsFor(t.app, email);
      expect(accounts).toHaveLength(1);
      expect(accounts[0]).toMatchObject({ status: 'active', given_name: 'Aiko-2' });
    });
  });

  describe('an address that already has an account (C3: no enumeration)', () => {
    it('an address an account is being moved to (an address change waiting for its code) counts as registered', async () => {
      const moving = await registerUser(t.app, { email: newAddress('moving'), locale: 'en' });
      const target = newAddress('target');
      const changer = addressChanger(emailChangeOf(t.app, t.app.revoker));
      await t.app.db
        .transaction()
        .execute((trx) => changer.start(trx, { accountId: moving.id, newEmail: target, actor: 'cli' }));
      await catcher.waitFor(target); // the change's own code
      const browser = english();
      const answer = await signUp(browser, t.issuer, signUpFields(target, { given_name: 'Mallory' }));
      expect(answer.status).toBe(303);
      expect(await accountsFor(t.app, target)).toEqual([]);
      const notice = await catcher.waitFor(
        target,
        (m) => m.subject === messageText('en', 'emails.alreadyRegistered.subject'),
      );
      expect(notice.text).toContain('Hello Hanako Yamada,');
      expect(notice.text).not.toMatch(/\b\d{6,10}\b/);
    });

    it('looks the same as a new address, sends a notice instead of a code, and changes nothing', async () => {
      const existing = await registerUser(t.app, { email: newAddress('existing'), locale: 'en' });
      const fresh = newAddress('fresh');

      const newcomer = english();
      const repeater = english();
      const forNew = await signUp(newcomer, t.issuer, signUpFields(fresh));
      const forExisting = await signUp(
        repeater,
        t.issuer,
        signUpFields(existing.email.toUpperCase(), { given_name: 'Mallory' }),
      );
      expect(forExisting.status).toBe(forNew.status);
      expect(forExisting.location).toBe(forNew.location);
      const newPage = await newcomer.follow(forNew.location!);
      const existingPage = await repeater.follow(forExisting.location!);
      expect(existingPage.status).toBe(newPage.status);
      expect(pageShape(existingPage.body, existing.email)).toBe(pageShape(newPage.body, fresh));

      await catcher.waitFor(fresh);
      const notice = await catcher.waitFor(existing.email);
      const mails = await settledMailsTo(existing.email);
      expect(mails).toHaveLength(1);
      expect(notice.subject).toBe(messageText('en', 'emails.alreadyRegistered.subject'));
      expect(notice.text).toContain(messageText('en', 'emails.alreadyRegistered.intro'));
      expect(notice.text).toContain('Hello Hanako Yamada,'); // the account's own name, not the one typed
      expect(notice.text).toContain(`${t.issuer}/recovery`);
      expect(notice.text).not.toMatch(/\b\d{6,10}\b/);

      // Any code is simply wrong there, with the same message as for a new address.
      const guessNew = await enterCode(newcomer, newPage, '000000');
      const guessExisting = await enterCode(repeater, existingPage, '000000');
      expect(guessExisting.status).toBe(guessNew.status);
      expect(alertText(guessExisting.body)).toBe(alertText(guessNew.body));
      expect(alertText(guessExisting.body)).toBe(codeMessage('CODE_WRONG', 4));

      // "Send a new code" behaves the same, and sends the notice again rather than a code.
      const resendNew = await pressResend(newcomer, newPage);
      const resendExisting = await pressResend(repeater, existingPage);
      expect(resendExisting.status).toBe(resendNew.status);
      expect(resendExisting.location).toBe(resendNew.location);
      await catcher.waitFor(existing.email, () => catcher.mailsTo(existing.email).length === 2);
      expect((await settledMailsTo(existing.email)).map((m) => m.subject)).toEqual([notice.subject, notice.subject]);

      const [after, ...others] = await accountsFor(t.app, existing.email);
      expect(others).toHaveLength(0);
      expect(after).toEqual(existing);
      expect(await t.app.hasher.verify(TEST_PASSWORD, after!.password_hash!)).toBe(true);
    });
  });

  describe('partners (C2)', () => {
    it('refuses a free-mail address for a partner and keeps the form filled in', async () => {
      const browser = english();
      const email = `partner-${Date.now()}@gmail.com`;
      const res = await signUp(browser, t.issuer, signUpFields(email, { partner: 'yes' }));
      expect(res.status).toBe(400);
      expect(formErrors(res.body)).toEqual([messageText('en', 'errors.EMAIL_FREE_MAIL_PARTNER')]);
      expect(inputValue(res.body, 'email')).toBe(email);
      expect(res.body).toMatch(/name="partner" value="yes" checked/);
      expect(res.body).toContain(messageText('en', 'signup.businessHint'));
      expect(await accountsFor(t.app, email)).toHaveLength(0);
      expect(await outboxFor(t.app, email)).toHaveLength(0);
    });

    it('accepts a free-mail address for a non-partner and a company address for a partner', async () => {
      const free = `someone-${Date.now()}@gmail.com`;
      expect((await signUp(english(), t.issuer, signUpFields(free))).status).toBe(303);
      expect((await accountsFor(t.app, free))[0]).toMatchObject({ partner: false });

      const company = newAddress('partner');
      expect((await signUp(english(), t.issuer, signUpFields(company, { partner: 'yes' }))).status).toBe(303);
      expect((await accountsFor(t.app, company))[0]).toMatchObject({ partner: true, status: 'pending' });
    });
  });

  describe('sign-up from a login (the OIDC interaction is kept)', () => {
    it('goes from "Create account" back to the password step, logs in, and the RP gets email_verified', async () => {
      const client = await registerClient(t.app);
      const auth = authorizationUrl(t.issuer, client.client_id);
      const browser = english();
      const emailPage = await browser.follow(auth.url);
      expect(emailPage.status).toBe(200);
      const link = emailPage.body.match(/<a href="([^"]*)" id="create-account">/)?.[1];
      expect(link).toMatch(/^\/signup\?interaction=[\w-]+$/);
      const uid = new URL(link!, t.issuer).searchParams.get('interaction')!;

      const form = await openSignUp(browser, t.issuer, link!.slice('/signup'.length));
      expect(inputValue(form.body, 'interaction')).toBe(uid);
      const email = newAddress('rp');
      const posted = await submitForm(browser, form, '/signup', signUpFields(email));
      expect(posted.status).toBe(303);
      const verify = await browser.follow(posted.location!);
      const code = codeIn(await catcher.waitFor(email));
      const activated = await enterCode(browser, verify, code);
      expect(activated.status).toBe(303);
      expect(activated.location).toBe(`${t.issuer}/interaction/${uid}/password?activated=1`);

      const passwordPage = await browser.follow(activated.location!);
      expect(passwordPage.status).toBe(200);
      expect(passwordPage.body).toContain(`<span id="login-email">${email}</span>`);
      expect(noticeText(passwordPage.body)).toBe(messageText('en', 'signup.activatedNotice'));

      let page = await submitForm(browser, passwordPage, '/password', { password: SIGNUP_PASSWORD });
      expect(page.status).toBe(303);
      page = await browser.follow(page.location!, RP_CALLBACK);
      if (!page.location?.startsWith(RP_CALLBACK) && formAction(page.body, '/confirm')) {
        page = await browser.follow(new URL(formAction(page.body, '/confirm')!, t.issuer).toString(), RP_CALLBACK, {
          form: { _csrf: inputValue(page.body, '_csrf')! },
        });
      }
      expect(page.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
      const callback = new URL(page.location!);
      expect(callback.searchParams.get('state')).toBe(auth.state);

      const token = await exchangeCode(t.issuer, client, callback.searchParams.get('code')!, auth.verifier);
      expect(token.status).toBe(200);
      const claims = jwtPayload(((await token.json()) as { id_token: string }).id_token);
      const [account] = await accountsFor(t.app, email);
      expect(claims).toMatchObject({ sub: account!.id, email, email_verified: true, nonce: auth.nonce });
    });

    it('refuses a pending account at login after the right password, and says so only then', async () => {
      const client = await registerClient(t.app);
      const email = newAddress('pending');
      await register(english(), email);

      const wrong = await loginThroughPages(english(), authorizationUrl(t.issuer, client.client_id).url, RP_CALLBACK, {
        email,
        password: 'Not-The-Password-1!',
      });
      expect(wrong.status).toBe(401);
      expect(alertText(wrong.body)).toBe(messageText('en', 'errors.LOGIN_FAILED'));

      const right = await loginThroughPages(english(), authorizationUrl(t.issuer, client.client_id).url, RP_CALLBACK, {
        email,
        password: SIGNUP_PASSWORD,
      });
      expect(right.status).toBe(403);
      expect(right.location).toBeUndefined();
      expect(alertText(right.body)).toBe(messageText('en', 'errors.ACCOUNT_PENDING'));
    });
  });
});

describe('sign-up codes expire', () => {
  let t: TestApp;
  const catcher = new MailCatcher();
  beforeAll(async () => {
    await catcher.start();
    t = await startTestApp({ overrides: { ...MAIL(catcher), codes: { ttlSeconds: 1 } } });
  });
  afterAll(async () => {
    await t?.close();
    await catcher.stop();
  });

  it('refuses an expired code with its own message and leaves the account pending', async () => {
    const browser = english();
    const email = newAddress('expiry');
    const res = await signUp(browser, t.issuer, signUpFields(email));
    const issuedAt = Date.now();
    const verify = await browser.follow(res.location!);
    const code = codeIn(await catcher.waitFor(email));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, issuedAt + 1500 - Date.now())));

    const late = await enterCode(browser, verify, code);
    expect(late.status).toBe(400);
    expect(alertText(late.body)).toBe(messageText('en', 'errors.CODE_EXPIRED'));
    expect((await accountsFor(t.app, email))[0]).toMatchObject({ status: 'pending', email_verified: false });
    // The page offers the way out the message names.
    expect(formAction(late.body, '/signup/resend')).toBe('/signup/resend');
  });
});

describe('sign-up rate limits', () => {
  let t: TestApp;
  const catcher = new MailCatcher();
  beforeAll(async () => {
    await catcher.start();
    t = await startTestApp({
      overrides: {
        ...MAIL(catcher),
        registration: {
          perIp: { points: 3, durationSeconds: 3600 },
          resendPerAddress: { points: 2, durationSeconds: 3600 },
        },
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await catcher.stop();
  });

  it('limits new codes per address and sign-ups per IP, with a clear message (429)', async () => {
    const tooMany = messageText('en', 'errors.TOO_MANY_ATTEMPTS', { minutes: 60 });

    // Per address: the sign-up and one resend are allowed, the next resend is not.
    const browser = english();
    const email = newAddress('limit');
    const res = await signUp(browser, t.issuer, signUpFields(email));
    const verify = await browser.follow(res.location!);
    expect((await pressResend(browser, verify)).status).toBe(303);
    const refused = await pressResend(browser, verify);
    expect(refused.status).toBe(429);
    expect(alertText(refused.body)).toBe(tooMany);
    await outboxSettled(t.app);
    expect(catcher.mailsTo(email)).toHaveLength(2);

    // Per IP: two more sign-ups (valid or not) use up the 3 points; the fourth is refused.
    expect((await signUp(english(), t.issuer, signUpFields(newAddress('limit')))).status).toBe(303);
    expect((await signUp(english(), t.issuer, signUpFields('not-an-address'))).status).toBe(400);
    const blocked = newAddress('blocked');
    const fourth = await signUp(english(), t.issuer, signUpFields(blocked));
    expect(fourth.status).toBe(429);
    expect(formErrors(fourth.body)).toEqual([tooMany]);
    expect(inputValue(fourth.body, 'email')).toBe(blocked);
    expectNoInternals(fourth);
    expect(await accountsFor(t.app, blocked)).toHaveLength(0);
    expect(await outboxFor(t.app, blocked)).toHaveLength(0);
  });
});

describe('with mail.codeInSubject', () => {
  let t: TestApp;
  const catcher = new MailCatcher();
  beforeAll(async () => {
    await catcher.start();
    t = await startTestApp({ overrides: { mail: { ...MAIL(catcher).mail, codeInSubject: true } } });
  });
  afterAll(async () => {
    await t?.close();
    await catcher.stop();
  });

  it('puts the activation code in the subject too', async () => {
    const email = newAddress();
    expect((await signUp(english(), t.issuer, signUpFields(email))).status).toBe(303);
    const mail = await catcher.waitFor(email);
    expect(mail.subject).toBe(messageText('en', 'emails.activation.subjectWithCode', { code: codeIn(mail) }));
  });
});
