/**
 * Bad input on the sign-up pages: every refusal is a clear message on the form (or an error
 * page), never a crash or a stack trace, and never a half-created account.
 */
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { messageText } from '../../helpers/fixtures.js';
import {
  alertText,
  formAction,
  HttpClient,
  inputValue,
  submitForm,
  type PageResponse,
} from '../../helpers/http-client.js';
import {
  accountsFor,
  enterCode,
  expectNoInternals,
  formErrors,
  newAddress,
  openSignUp,
  outboxFor,
  outboxSettled,
  signUp,
  signUpFields,
} from '../../helpers/signup-pages.js';
import { codeIn, MailCatcher } from '../../helpers/smtp.js';

const english = () => new HttpClient({ 'accept-language': 'en' });
const error = (key: string) => messageText('en', `errors.${key}`);

describe('bad input on the sign-up form', () => {
  let t: TestApp;
  const catcher = new MailCatcher();

  beforeAll(async () => {
    await catcher.start();
    t = await startTestApp({
      overrides: {
        mail: { smtpUrl: catcher.url, from: 'Monban <no-reply@monban.test>' },
        registration: { perIp: { points: 1000, durationSeconds: 3600 } },
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await catcher.stop();
  });

  /** A refused sign-up: the form again with `messages`, nothing stored, nothing mailed for `email`. */
  async function expectRefused(res: PageResponse, email: string, messages: string[]): Promise<void> {
    expect(res.status).toBe(400);
    expect(res.location).toBeUndefined();
    expect(formErrors(res.body)).toEqual(messages);
    expect(formAction(res.body, '/signup')).toBe('/signup');
    expectNoInternals(res);
    if (email) {
      expect(await accountsFor(t.app, email)).toHaveLength(0);
      expect(await outboxFor(t.app, email)).toHaveLength(0);
    }
  }

  it('lists every missing field at once', async () => {
    const res = await signUp(english(), t.issuer, {
      email: '',
      password: '',
      password_confirmation: '',
      given_name: '',
      family_name: '',
      country: '',
    });
    await expectRefused(res, '', [
      error('EMAIL_REQUIRED'),
      error('NAME_REQUIRED'),
      error('COUNTRY_REQUIRED'),
      error('PASSWORD_TOO_SHORT'),
      error('PASSWORD_NEEDS_LOWER'),
      error('PASSWORD_NEEDS_UPPER'),
      error('PASSWORD_NEEDS_DIGIT'),
      error('PASSWORD_NEEDS_SYMBOL'),
    ]);
    expect(res.body).toMatch(/<input id="email"[^>]*aria-invalid="true"/);
    expect(res.body).toMatch(/<select id="country"[^>]*aria-invalid="true"/);
    expect(res.body).toMatch(/<input id="password"[^>]*aria-invalid="true"/);
  });

  it('treats fields left out of the post like empty ones', async () => {
    const browser = english();
    const page = await openSignUp(browser, t.issuer);
    const res = await browser.request(`${t.issuer}/signup`, { form: { _csrf: inputValue(page.body, '_csrf')! } });
    await expectRefused(res, '', [
      error('EMAIL_REQUIRED'),
      error('NAME_REQUIRED'),
      error('COUNTRY_REQUIRED'),
      error('PASSWORD_TOO_SHORT'),
      error('PASSWORD_NEEDS_LOWER'),
      error('PASSWORD_NEEDS_UPPER'),
      error('PASSWORD_NEEDS_DIGIT'),
      error('PASSWORD_NEEDS_SYMBOL'),
    ]);
  });

  it('names the one missing field and keeps what was typed (never the password)', async () => {
    const email = newAddress('keep');
    const res = await signUp(english(), t.issuer, signUpFields(email, { family_name: '  ' }));
    await expectRefused(res, email, [error('NAME_REQUIRED')]);
    expect(inputValue(res.body, 'email')).toBe(email);
    expect(inputValue(res.body, 'given_name')).toBe('Aiko');
    expect(res.body).toMatch(/<option value="JP" selected>/);
    expect(res.body).not.toContain(signUpFields(email).password);
  });

  it('refuses a password the policy refuses, and two passwords that differ, with every reason', async () => {
    const email = newAddress('pw');
    const local = email.split('@')[0]!.split('-')[1]!;
    const res = await signUp(
      english(),
      t.issuer,
      signUpFields(email, { password: `${local}x`, password_confirmation: 'other' }),
    );
    await expectRefused(res, email, [
      error('PASSWORD_TOO_SHORT'),
      error('PASSWORD_NEEDS_UPPER'),
      error('PASSWORD_NEEDS_SYMBOL'),
      error('PASSWORD_CONTAINS_EMAIL'),
      error('PASSWORD_MISMATCH'),
    ]);
    const common = await signUp(
      english(),
      t.issuer,
      signUpFields(email, { password: 'g00dPa$$w0rD', password_confirmation: 'g00dPa$$w0rD' }),
    );
    await expectRefused(common, email, [error('PASSWORD_COMMON')]);
  });

  it('refuses an unknown country code', async () => {
    const email = newAddress('country');
    await expectRefused(await signUp(english(), t.issuer, signUpFields(email, { country: 'XX' })), email, [
      error('COUNTRY_REQUIRED'),
    ]);
    await expectRefused(await signUp(english(), t.issuer, signUpFields(email, { country: 'jp' })), email, [
      error('COUNTRY_REQUIRED'),
    ]);
  });

  describe('10,000-character fields', () => {
    const huge = 'a'.repeat(10_000);

    it.each<[string, Record<string, string>, string[]]>([
      ['email', { email: `${huge}@example.com` }, ['EMAIL_TOO_LONG']],
      ['given name', { given_name: huge }, ['NAME_TOO_LONG']],
      ['family name', { family_name: huge }, ['NAME_TOO_LONG']],
      // Both password fields at 10,000 would exceed the body limit (the 413 case below).
      ['password', { password: `Aa1!${huge}`, password_confirmation: '' }, ['PASSWORD_TOO_LONG', 'PASSWORD_MISMATCH']],
    ])('refuses a 10,000-character %s with a clear message', async (_label, changes, keys) => {
      const email = newAddress('long');
      const res = await signUp(english(), t.issuer, signUpFields(email, changes));
      await expectRefused(res, changes.email ?? email, keys.map(error));
      expect(await accountsFor(t.app, email)).toHaveLength(0);
      // Long input comes back cut short (and the password never), not echoed in full.
      expect(res.body.length).toBeLessThan(40_000);
      expect(res.body).not.toContain(huge.slice(0, 1001));
    });

    it('refuses a form with every field that long as too large (413), storing nothing', async () => {
      const email = `${huge}@example.com`;
      const res = await signUp(english(), t.issuer, {
        email,
        password: huge,
        password_confirmation: huge,
        given_name: huge,
        family_name: huge,
        country: 'JP',
      });
      expect(res.status).toBe(413);
      expect(alertText(res.body)).toBe(error('BODY_TOO_LARGE'));
      expectNoInternals({ ...res, status: 400 });
      expect(await t.app.db.selectFrom('accounts').select('id').where('given_name', '=', huge).execute()).toHaveLength(
        0,
      );
    });
  });

  describe('email addresses', () => {
    it.each([
      ['no @', 'taro.example.com', 'EMAIL_INVALID'],
      ['nothing before @', '@example.com', 'EMAIL_INVALID'],
      ['two @', 'taro@@example.com', 'EMAIL_INVALID'],
      ['a space', 'ta ro@example.com', 'EMAIL_INVALID'],
      ['no top-level domain', 'taro@localhost', 'EMAIL_INVALID'],
      ['markup', '"><script>alert(1)</script>@example.com', 'EMAIL_INVALID'],
      ['a Japanese local part', '山田@例え.jp', 'EMAIL_LOCAL_NOT_ASCII'],
      [
        '255 characters',
        `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(58)}.com`,
        'EMAIL_TOO_LONG',
      ],
    ])('refuses an address with %s', async (_label, email, key) => {
      const res = await signUp(english(), t.issuer, signUpFields(email));
      await expectRefused(res, email, [error(key)]);
      // The address is shown back as typed, escaped.
      expect(inputValue(res.body, 'email')).toBe(email.replace(/</g, '&lt;').replace(/>/g, '&gt;'));
      expect(res.body).not.toContain('<script>alert(1)</script>');
    });

    it('accepts an internationalised domain and stores its punycode form', async () => {
      const tag = Date.now().toString(36);
      const res = await signUp(english(), t.issuer, signUpFields(`Taro.${tag}@例え.jp`));
      expect(res.status).toBe(303);
      const stored = `taro.${tag}@xn--r8jz45g.jp`;
      expect((await accountsFor(t.app, stored))[0]).toMatchObject({ email: stored, status: 'pending' });
      expect((await outboxFor(t.app, stored)).map((row) => row.recipient)).toEqual([stored]);
      // The catcher's parser shows the domain in Unicode again; the code arrives either way.
      const mail = await catcher.waitFor(`taro.${tag}@例え.jp`);
      expect(codeIn(mail)).toMatch(/^\d{6}$/);
    });

    it('reads a full-width address as the ASCII one and stores it lower-cased', async () => {
      const tag = Date.now().toString(36);
      const fullWidth = Array.from(`Hanako.${tag}@Example.com`)
        .map((c) => (c === '.' ? '．' : c === '@' ? '＠' : String.fromCharCode(c.charCodeAt(0) + 0xfee0)))
        .join('');
      const res = await signUp(english(), t.issuer, signUpFields(fullWidth));
      expect(res.status).toBe(303);
      expect(await accountsFor(t.app, `hanako.${tag}@example.com`)).toHaveLength(1);
    });
  });

  describe('names', () => {
    const markup = '<script>alert("x")</script><b>Bold</b> & \'Co\'';

    it('shows HTML and script in a name escaped on the form again', async () => {
      const email = newAddress('xss');
      const res = await signUp(
        english(),
        t.issuer,
        signUpFields(email, { given_name: markup, family_name: '<img src=x onerror=alert(1)>', country: '' }),
      );
      await expectRefused(res, email, [error('COUNTRY_REQUIRED')]);
      expect(res.body).not.toContain('<script>alert');
      expect(res.body).not.toContain('<img src=x');
      expect(res.body).not.toContain('<b>Bold</b>');
      expect(res.body).toContain(
        '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;b&gt;Bold&lt;/b&gt; &amp; &#x27;Co&#x27;',
      );
      expect(res.body).toContain('value="&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;"');
    });

    it('stores a name with markup as the literal text and puts none of it in the activation mail', async () => {
      const email = newAddress('literal');
      const res = await signUp(english(), t.issuer, signUpFields(email, { given_name: markup }));
      expect(res.status).toBe(303);
      expect((await accountsFor(t.app, email))[0]).toMatchObject({ given_name: markup });
      const mail = await catcher.waitFor(email);
      // The address is not verified yet: nothing typed on the form reaches it, escaped or not.
      for (const part of [mail.subject, mail.text, mail.html]) {
        expect(part).not.toContain('script');
        expect(part).not.toContain('Bold');
      }
    });

    it.each([
      ['a NUL', 'Ta\u0000ro'],
      ['a bell', 'Ta\u0007ro'],
      ['a tab inside', 'Ta\tro'],
      ['a line break inside', 'Ta\nro'],
      ['a right-to-left override', 'Taro\u202Egnp.exe'],
      ['a zero-width space', 'Ta\u200Bro'],
      ['DEL', 'Taro\u007F'],
    ])('refuses a name with %s', async (_label, name) => {
      const email = newAddress('ctl');
      await expectRefused(await signUp(english(), t.issuer, signUpFields(email, { family_name: name })), email, [
        error('NAME_INVALID'),
      ]);
    });

    it('accepts names in Japanese and with accents, apostrophes and hyphens', async () => {
      const email = newAddress('names');
      const res = await signUp(
        english(),
        t.issuer,
        signUpFields(email, { given_name: 'Zoë-Renée', family_name: "山田 O'Brien" }),
      );
      expect(res.status).toBe(303);
      expect((await accountsFor(t.app, email))[0]).toMatchObject({
        given_name: 'Zoë-Renée',
        family_name: "山田 O'Brien",
      });
    });

    it('refuses a 101-character name and accepts 100 characters', async () => {
      const email = newAddress('len');
      await expectRefused(
        await signUp(english(), t.issuer, signUpFields(email, { given_name: '名'.repeat(101) })),
        email,
        [error('NAME_TOO_LONG')],
      );
      expect((await signUp(english(), t.issuer, signUpFields(email, { given_name: '名'.repeat(100) }))).status).toBe(
        303,
      );
    });
  });

  describe('duplicate submits', () => {
    it('the same form posted twice in a row: one account, two mails, only the newest code works', async () => {
      const browser = english();
      const email = newAddress('twice');
      const page = await openSignUp(browser, t.issuer);
      const first = await submitForm(browser, page, '/signup', signUpFields(email));
      const second = await submitForm(browser, page, '/signup', signUpFields(email));
      expect([first.status, second.status]).toEqual([303, 303]);
      await catcher.waitFor(email, () => catcher.mailsTo(email).length === 2);
      await outboxSettled(t.app);
      const mails = catcher.mailsTo(email);
      expect(mails).toHaveLength(2);
      expect(await accountsFor(t.app, email)).toHaveLength(1);

      const verify = await browser.follow(second.location!);
      const old = await enterCode(browser, verify, codeIn(mails[0]!));
      expect(alertText(old.body)).toBe(messageText('en', 'errors.CODE_WRONG', { attempts: 4 }));
      const done = await enterCode(browser, verify, codeIn(mails[1]!));
      expect(done.body).toContain(messageText('en', 'signup.activatedHeading'));
      expect((await accountsFor(t.app, email))[0]).toMatchObject({ status: 'active' });
    });

    it('the same form posted twice at the same time: one account, at most two mails, one live code', async () => {
      for (let round = 0; round < 3; round += 1) {
        const browser = english();
        const email = newAddress('parallel');
        const page = await openSignUp(browser, t.issuer);
        const answers = await Promise.all(
          [1, 2, 3].map(() => submitForm(browser, page, '/signup', signUpFields(email))),
        );
        for (const res of answers) {
          expect(res.status).toBe(303);
          expectNoInternals(res);
        }
        await catcher.waitFor(email);
        await outboxSettled(t.app);
        const mails = catcher.mailsTo(email);
        expect(mails.length).toBeGreaterThanOrEqual(1);
        expect(mails.length).toBeLessThanOrEqual(3);
        expect(await accountsFor(t.app, email)).toHaveLength(1);
        const live = await t.app.db
          .selectFrom('flows')
          .selectAll()
          .where('kind', '=', 'registration')
          .where('email', '=', email)
          .where('state', '=', 'awaiting_code')
          .execute();
        expect(live).toHaveLength(1);

        // The newest mail's code is the live one; the browser's page is either that flow or says to start again.
        const verify = await browser.follow(`${t.issuer}/signup/verify`);
        if (verify.body.includes('id="code"')) {
          for (const older of mails.slice(0, -1)) {
            expect(alertText((await enterCode(browser, verify, codeIn(older))).body)).toMatch(
              /^That code is not right\./,
            );
          }
          const done = await enterCode(browser, verify, codeIn(mails.at(-1)!));
          expect(done.body).toContain(messageText('en', 'signup.activatedHeading'));
        } else {
          expect(formErrors(verify.body)).toEqual([messageText('en', 'errors.FLOW_EXPIRED')]);
        }
      }
    });
  });

  describe('forged requests', () => {
    it('refuses a missing, empty, forged or foreign CSRF token (403) and stores nothing', async () => {
      const browser = english();
      const page = await openSignUp(browser, t.issuer);
      const other = await openSignUp(english(), t.issuer);
      const email = newAddress('csrf');
      const fields = signUpFields(email);
      const answers = [
        await browser.request(`${t.issuer}/signup`, { form: fields }),
        await submitForm(browser, page, '/signup', { ...fields, _csrf: '' }),
        await submitForm(browser, page, '/signup', { ...fields, _csrf: 'forged-token' }),
        await submitForm(browser, page, '/signup', { ...fields, _csrf: inputValue(other.body, '_csrf')! }),
        // No CSRF cookie at all (a cross-site post from a fresh browser).
        await new HttpClient({ 'accept-language': 'en' }).request(`${t.issuer}/signup`, {
          form: { ...fields, _csrf: inputValue(page.body, '_csrf')! },
        }),
      ];
      for (const res of answers) {
        expect(res.status).toBe(403);
        expect(alertText(res.body)).toBe(error('CSRF_FAILED'));
        expectNoInternals(res);
      }
      for (const path of ['/signup/verify', '/signup/resend']) {
        const res = await browser.request(`${t.issuer}${path}`, { form: { code: '123456' } });
        expect(res.status).toBe(403);
        expect(alertText(res.body)).toBe(error('CSRF_FAILED'));
      }
      expect(await accountsFor(t.app, email)).toHaveLength(0);
      expect(await outboxFor(t.app, email)).toHaveLength(0);
      // The real token still works.
      expect((await submitForm(browser, page, '/signup', fields)).status).toBe(303);
    });

    it('refuses an oversize body (413) with a clear page', async () => {
      const browser = english();
      const page = await openSignUp(browser, t.issuer);
      const email = newAddress('big');
      const res = await submitForm(browser, page, '/signup', signUpFields(email, { filler: 'x'.repeat(20_000) }));
      expect(res.status).toBe(413);
      expect(alertText(res.body)).toBe(error('BODY_TOO_LARGE'));
      expectNoInternals({ ...res, status: 400 });
      expect(await accountsFor(t.app, email)).toHaveLength(0);
    });

    it.each([
      ['JSON', 'application/json', '{"email":"x@example.com"}'],
      [
        'multipart',
        'multipart/form-data; boundary=x',
        '--x\r\ncontent-disposition: form-data; name="email"\r\n\r\nx@example.com\r\n--x--\r\n',
      ],
      ['a broken urlencoded body', 'application/x-www-form-urlencoded', 'email=%E0%A4%A&_csrf=%'],
    ])('answers %s with a clear page and no crash', async (_label, type, body) => {
      const browser = english();
      await openSignUp(browser, t.issuer);
      const res = await browser.request(`${t.issuer}/signup`, {
        method: 'POST',
        body,
        headers: { 'content-type': type },
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(alertText(res.body)).toBeTruthy();
      expectNoInternals(res);
    });

    it('ignores a forged interaction id instead of failing', async () => {
      const email = newAddress('uid');
      const res = await signUp(english(), t.issuer, signUpFields(email, { interaction: '../../../../etc/passwd' }));
      expect(res.status).toBe(303);
      const page = await english().request(`${t.issuer}/signup?interaction=${'x'.repeat(40)}`);
      expect(page.status).toBe(200);
      expect(inputValue(page.body, 'interaction')).toBeUndefined();
    });
  });

  describe('the activation page', () => {
    it('starts again with a message when there is no sign-up in progress', async () => {
      const browser = english();
      const page = await openSignUp(browser, t.issuer);
      const get = await browser.request(`${t.issuer}/signup/verify`);
      const post = await browser.request(`${t.issuer}/signup/verify`, {
        form: { _csrf: inputValue(page.body, '_csrf')!, code: '123456' },
      });
      const resend = await browser.request(`${t.issuer}/signup/resend`, {
        form: { _csrf: inputValue(page.body, '_csrf')! },
      });
      for (const res of [get, post, resend]) {
        expect(res.status).toBe(200);
        expect(formErrors(res.body)).toEqual([error('FLOW_EXPIRED')]);
        expectNoInternals(res);
      }
    });

    it('refuses letters, a long string and markup as a code, each counting as a wrong try', async () => {
      const browser = english();
      const email = newAddress('code');
      const res = await signUp(browser, t.issuer, signUpFields(email));
      const verify = await browser.follow(res.location!);
      const answers = [];
      for (const code of ['abcdef', '9'.repeat(10_000), '<script>alert(1)</script>'])
        answers.push(await enterCode(browser, verify, code));
      expect(answers.map((a) => alertText(a.body))).toEqual(
        [4, 3, 2].map((attempts) => messageText('en', 'errors.CODE_WRONG', { attempts })),
      );
      for (const a of answers) {
        expect(a.status).toBe(400);
        expect(a.body).not.toContain('<script>alert(1)</script>');
        expectNoInternals(a);
      }
      expect((await accountsFor(t.app, email))[0]).toMatchObject({ status: 'pending' });
    });
  });
});
