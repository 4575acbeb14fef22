/**
 * PR5: turning two-step verification on and off in the account console with an authenticator
 * app. Every step sits behind the password; a factor counts only once a code from the app proves
 * it; the ten recovery codes are shown once; the change is mailed and audited; the TOTP secret is
 * stored sealed. Duo enrollment is in duo.test.ts, the login with a factor in login.test.ts.
 */
import {
  asksForPassword,
  auditTypes,
  ENGLISH,
  landed,
  open,
  signedInUser,
  signInToAccount,
  startAccountHarness,
  textOf,
  type AccountHarness,
} from '../../helpers/account.js';
import { en, ja, TEST_PASSWORD } from '../../helpers/fixtures.js';
import {
  alertText,
  expectNoInternals,
  HttpClient,
  loginThroughPages,
  submitForm,
  unescapeHtml,
  type PageResponse,
} from '../../helpers/http-client.js';
import {
  enableTotp,
  recoveryCodesOnPage,
  recoveryForm,
  secretOnPage,
  signInToAccountWithMfa,
  totpCode,
  wrongTotpCode,
} from '../../helpers/mfa.js';
import { formErrors, noticeText } from '../../helpers/signup-pages.js';
import { isTimestamp } from '../../helpers/databases.js';

const SECURITY = '/account/security';
const CHOICE = '/account/security/mfa';
const TOTP_SETUP = '/account/security/mfa/totp';
const WRONG_PASSWORD = 'Not-The-Password-1!';
const RECOVERY_CODE = /^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/;

describe('account console: turning two-step verification on and off (PR5)', () => {
  let h: AccountHarness;
  beforeAll(async () => {
    h = await startAccountHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const factors = (accountId: string) =>
    h.app.db.selectFrom('mfa_factors').selectAll().where('account_id', '=', accountId).execute();
  const recoveryRows = (accountId: string) =>
    h.app.db.selectFrom('recovery_codes').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
  const mfaStatus = (page: PageResponse) => textOf(page.body, 'mfa-status');

  /** The choice page submitted with `fields` (method, current_password), as the browser would. */
  async function choose(browser: HttpClient, fields: Record<string, string>): Promise<PageResponse> {
    const page = await open(browser, h.issuer, CHOICE);
    expect(page.status).toBe(200);
    return submitForm(browser, page, CHOICE, fields);
  }

  it('offers to turn it on while it is off, asks for the password, and offers no Duo when Duo is not configured', async () => {
    const { browser } = await signedInUser(h);
    const security = await open(browser, h.issuer, SECURITY);
    expect(security.status).toBe(200);
    expect(mfaStatus(security)).toBe(en('account.security.mfaNone'));
    expect(security.body).toMatch(new RegExp(`<a href="${CHOICE}" id="mfa-on">${en('account.security.mfaOn')}</a>`));
    expect(security.body).not.toContain('action="/account/security/mfa/off"');
    expect(security.body).not.toContain('action="/account/security/mfa/recovery-codes"');

    const choice = await open(browser, h.issuer, CHOICE);
    expect(choice.status).toBe(200);
    expect(choice.body).toContain(en('mfa.setup.heading'));
    expect(choice.body).toContain('value="totp"');
    expect(choice.body).toContain(en('mfa.setup.totp'));
    expect(choice.body).not.toContain('value="duo"');
    expect(asksForPassword(choice.body)).toBe(true);
  });

  it('refuses a wrong or missing password and a missing method, and stores nothing', async () => {
    const { user, browser } = await signedInUser(h);

    const wrong = await choose(browser, { method: 'totp', current_password: WRONG_PASSWORD });
    expect(wrong.status).toBe(401);
    expect(formErrors(wrong.body)).toEqual([en('errors.CURRENT_PASSWORD_WRONG')]);
    expect(wrong.body).not.toContain('id="totp-secret"');
    expectNoInternals(wrong);
    expect(await factors(user.id)).toEqual([]);
    expect(await auditTypes(h.app, user.id)).toContain('reauth.failed');

    const missing = await choose(browser, { method: 'totp' });
    expect(missing.status).toBe(400);
    expect(formErrors(missing.body)).toEqual([en('errors.PASSWORD_REQUIRED')]);
    expect(await factors(user.id)).toEqual([]);

    // The right password, but no method (the radio button unset), or Duo while it is not configured.
    const noMethod = await submitForm(browser, await open(browser, h.issuer, CHOICE), CHOICE, {
      current_password: TEST_PASSWORD,
      method: '',
    });
    expect(noMethod.status).toBe(400);
    expect(formErrors(noMethod.body)).toEqual([en('errors.MFA_METHOD_REQUIRED')]);
    const duo = await choose(browser, { method: 'duo' });
    expect(formErrors(duo.body)).toEqual([en('errors.MFA_METHOD_REQUIRED')]);
    expect(await factors(user.id)).toEqual([]);
    expect(mfaStatus(await open(browser, h.issuer, SECURITY))).toBe(en('account.security.mfaNone'));
    expect(h.mail.mailsTo(user.email)).toEqual([]);
  });

  it('shows a QR code and a 160-bit key; a wrong code keeps it off, the right one turns it on with ten recovery codes, a mail and an audit entry', async () => {
    const { user, browser } = await signedInUser(h);
    const chosen = await choose(browser, { method: 'totp', current_password: TEST_PASSWORD });
    expect(chosen.status).toBe(303);
    expect(chosen.location).toBe(`${h.issuer}${TOTP_SETUP}`);

    const setup = await landed(browser, chosen);
    expect(setup.status).toBe(200);
    expect(setup.headers.get('cache-control')).toMatch(/no-store/);
    expect(setup.body).toContain(en('mfa.setup.totpHeading'));
    expect(setup.body).toContain(en('mfa.setup.account', { email: user.email }));
    const src = unescapeHtml(setup.body.match(/<img src="([^"]*)"[^>]*id="totp-qr"/)?.[1] ?? '');
    const qr = src.match(/^data:image\/png;base64,([A-Za-z0-9+/]+=*)$/)?.[1];
    expect(qr).toBeDefined();
    expect(Buffer.from(qr!, 'base64').subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    const secret = secretOnPage(setup);
    // RFC 4226 4: 160 bits, i.e. 32 base32 characters, shown in groups of four.
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(textOf(setup.body, 'totp-secret')).toBe(secret.match(/.{4}/g)!.join(' '));
    // Reloading the page shows the same key (the app may not have scanned it yet).
    expect(secretOnPage(await open(browser, h.issuer, TOTP_SETUP))).toBe(secret);

    // Pending until a code proves it: nothing counts yet.
    expect((await factors(user.id)).map((f) => f.state)).toEqual(['pending']);
    expect(mfaStatus(await open(browser, h.issuer, SECURITY))).toBe(en('account.security.mfaNone'));

    const wrong = await submitForm(browser, await open(browser, h.issuer, TOTP_SETUP), TOTP_SETUP, {
      code: wrongTotpCode(secret),
    });
    expect(wrong.status).toBe(401);
    expect(formErrors(wrong.body)).toEqual([en('errors.MFA_CODE_WRONG')]);
    expect(recoveryCodesOnPage(wrong)).toEqual([]);
    expect(secretOnPage(wrong)).toBe(secret);
    expectNoInternals(wrong);
    expect((await factors(user.id)).map((f) => f.state)).toEqual(['pending']);
    expect(await recoveryRows(user.id)).toEqual([]);
    expect(mfaStatus(await open(browser, h.issuer, SECURITY))).toBe(en('account.security.mfaNone'));
    expect(await auditTypes(h.app, user.id)).not.toContain('mfa.enabled');

    const done = await landed(browser, await submitForm(browser, wrong, TOTP_SETUP, { code: totpCode(secret) }));
    expect(done.status).toBe(200);
    expect(done.headers.get('cache-control')).toMatch(/no-store/);
    expect(noticeText(done.body)).toBe(en('mfa.codes.saved'));
    expect(done.body).toContain(en('mfa.codes.keep'));
    const codes = recoveryCodesOnPage(done);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(RECOVERY_CODE);

    // Stored: one active factor whose secret is sealed, and only HMACs of the codes.
    const [factor, ...others] = await factors(user.id);
    expect(others).toEqual([]);
    expect(factor).toMatchObject({ kind: 'totp', state: 'active' });
    expect(isTimestamp(factor!.confirmed_at)).toBe(true);
    expect(factor!.secret_sealed).toEqual(expect.any(String));
    for (const form of [
      secret,
      secret.toLowerCase(),
      Buffer.from(secret).toString('base64'),
      Buffer.from(secret).toString('hex'),
    ]) {
      expect(factor!.secret_sealed).not.toContain(form);
    }
    const rows = await recoveryRows(user.id);
    expect(rows).toHaveLength(10);
    for (const row of rows) {
      expect(row.used_at).toBeNull();
      for (const code of codes) expect(row.code_hmac).not.toContain(code.replace('-', ''));
    }

    // The notice mail to the account's address, and the audit log.
    const mail = await h.mail.waitFor(user.email, (m) => m.subject === en('emails.mfaEnabled.subject'));
    expect(mail.to).toContain(user.email);
    expect(mail.text).toContain(en('emails.mfaEnabled.intro'));
    expect(mail.text).toContain(en('emails.mfaEnabled.totp'));
    for (const code of codes) expect(mail.text).not.toContain(code);
    const audit = await h.app.db
      .selectFrom('audit_events')
      .select(['type', 'details'])
      .where('account_id', '=', user.id)
      .where('type', '=', 'mfa.enabled')
      .execute();
    expect(audit).toEqual([{ type: 'mfa.enabled', details: { kind: 'totp' } }]);

    // The codes are never shown again: not on reloading the setup page, the choice page or the security page.
    for (const path of [TOTP_SETUP, CHOICE]) {
      const again = await open(browser, h.issuer, path);
      expect(again.status).toBe(303);
      expect(again.location).toBe(`${h.issuer}${path === TOTP_SETUP ? CHOICE : SECURITY}`);
    }
    const reloaded = await browser.follow(`${h.issuer}${TOTP_SETUP}`);
    expect(reloaded.url).toBe(`${h.issuer}${SECURITY}`);
    const security = await open(browser, h.issuer, SECURITY);
    for (const page of [reloaded, security]) {
      expect(recoveryCodesOnPage(page)).toEqual([]);
      for (const code of codes) expect(page.body).not.toContain(code);
      expect(page.body).not.toContain(secret.match(/.{4}/g)!.join(' '));
    }
    // A day in the reader's language and time zone (UTC for a browser that tells none).
    const today = new Intl.DateTimeFormat('en', { timeZone: 'UTC', dateStyle: 'long' }).format(new Date());
    expect(mfaStatus(security)).toBe(en('account.security.mfaOnTotp', { since: today }));
    expect(textOf(security.body, 'recovery-codes-left')).toBe(en('account.security.recoveryCodesLeft', { count: 10 }));
    expect(security.body).not.toContain('id="mfa-on"');

    // From now on the login asks for the second step.
    const other = new HttpClient(ENGLISH);
    const page = await loginThroughPages(other, `${h.issuer}/account`, `${h.issuer}/account/callback`, {
      email: user.email,
      password: TEST_PASSWORD,
    });
    expect(page.location).toBeUndefined();
    expect(page.url).toMatch(/\/interaction\/[^/]+\/mfa$/);
    expect(page.body).toContain('action="/interaction/');
    expect(page.body).toContain('/mfa/totp"');
  });

  it('speaks Japanese to a Japanese account: pages, errors and the mail', async () => {
    const { user, browser } = await signedInUser(h, { headers: { 'accept-language': 'ja' } });
    await h.app.db.updateTable('accounts').set({ locale: 'ja' }).where('id', '=', user.id).execute();
    expect(mfaStatus(await open(browser, h.issuer, SECURITY))).toBe(ja('account.security.mfaNone'));
    const wrongPassword = await choose(browser, { method: 'totp', current_password: WRONG_PASSWORD });
    expect(formErrors(wrongPassword.body)).toEqual([ja('errors.CURRENT_PASSWORD_WRONG')]);

    const setup = await landed(browser, await choose(browser, { method: 'totp', current_password: TEST_PASSWORD }));
    expect(setup.body).toContain(ja('mfa.setup.totpHeading'));
    const secret = secretOnPage(setup);
    const wrong = await submitForm(browser, setup, TOTP_SETUP, { code: wrongTotpCode(secret) });
    expect(formErrors(wrong.body)).toEqual([ja('errors.MFA_CODE_WRONG')]);
    // Authenticator apps on a Japanese phone may give full-width digits; they are the same code.
    const fullWidth = totpCode(secret).replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d)));
    const done = await landed(browser, await submitForm(browser, wrong, TOTP_SETUP, { code: fullWidth }));
    expect(done.status).toBe(200);
    expect(noticeText(done.body)).toBe(ja('mfa.codes.saved'));
    expect(recoveryCodesOnPage(done)).toHaveLength(10);
    const mail = await h.mail.waitFor(user.email, (m) => m.subject === ja('emails.mfaEnabled.subject'));
    expect(mail.text).toContain(ja('emails.mfaEnabled.totp'));
  });

  it('new recovery codes need the password, and the old codes stop working', async () => {
    const { user, browser: first } = await signedInUser(h);
    const { secret, recoveryCodes: oldCodes } = await enableTotp(first, h.issuer);
    // A browser signed in later (with the next code) has not typed the password in the console.
    const browser = new HttpClient(ENGLISH);
    await signInToAccountWithMfa(browser, h.issuer, user.email, { code: totpCode(secret, 1) });
    const security = await open(browser, h.issuer, SECURITY);
    // The page asks for the password once, at its top, not in the form of each change.
    expect(security.body).toMatch(
      /<form method="post" action="\/account\/security\/reauth"[^>]*>[\s\S]*?name="current_password"[\s\S]*?<\/form>/,
    );
    const before = (await recoveryRows(user.id)).map((r) => r.code_hmac);

    const renew = (fields: Record<string, string>) =>
      submitForm(browser, security, '/account/security/mfa/recovery-codes', fields);
    const missing = await renew({});
    expect(missing.status).toBe(400);
    expect(formErrors(missing.body)).toEqual([en('errors.REAUTH_REQUIRED')]);
    const wrong = await renew({ current_password: WRONG_PASSWORD });
    expect(wrong.status).toBe(401);
    expect(formErrors(wrong.body)).toEqual([en('errors.CURRENT_PASSWORD_WRONG')]);
    expect(recoveryCodesOnPage(wrong)).toEqual([]);
    expect((await recoveryRows(user.id)).map((r) => r.code_hmac)).toEqual(before);
    expect(await auditTypes(h.app, user.id)).not.toContain('mfa.recovery_codes_renewed');

    const renewed = await landed(browser, await renew({ current_password: TEST_PASSWORD }));
    expect(renewed.status).toBe(200);
    expect(noticeText(renewed.body)).toBe(en('mfa.codes.renewed'));
    const newCodes = recoveryCodesOnPage(renewed);
    expect(newCodes).toHaveLength(10);
    expect(new Set(newCodes).size).toBe(10);
    expect(newCodes.filter((code) => oldCodes.includes(code))).toEqual([]);
    expect(await auditTypes(h.app, user.id)).toContain('mfa.recovery_codes_renewed');
    expect(textOf((await open(browser, h.issuer, SECURITY)).body, 'recovery-codes-left')).toBe(
      en('account.security.recoveryCodesLeft', { count: 10 }),
    );

    // At the login, an old code is refused and a new one works.
    const third = new HttpClient(ENGLISH);
    const page = await loginThroughPages(third, `${h.issuer}/account`, `${h.issuer}/account/callback`, {
      email: user.email,
      password: TEST_PASSWORD,
    });
    const refused = await submitForm(third, await recoveryForm(third, page), '/mfa/recovery', {
      recovery_code: oldCodes[0]!,
    });
    expect(refused.status).toBe(401);
    expect(alertText(refused.body)).toBe(en('errors.RECOVERY_CODE_WRONG'));
    const accepted = await submitForm(third, refused, '/mfa/recovery', { recovery_code: newCodes[0]! });
    expect(accepted.status).toBe(303);
    const hub = await third.follow(accepted.location!);
    expect(hub.url).toBe(`${h.issuer}/account`);
    expect(hub.status).toBe(200);
    expect(textOf((await open(third, h.issuer, SECURITY)).body, 'recovery-codes-left')).toBe(
      en('account.security.recoveryCodesLeft', { count: 9 }),
    );
  });

  it('turning it off needs the password, reminds to clean up the app, mails and audits, and the login asks only the password again', async () => {
    const { user, browser: first } = await signedInUser(h);
    const { secret, recoveryCodes } = await enableTotp(first, h.issuer);
    const browser = new HttpClient(ENGLISH);
    await signInToAccountWithMfa(browser, h.issuer, user.email, { code: totpCode(secret, 1) });
    const security = await open(browser, h.issuer, SECURITY);
    expect(security.body).toContain(en('account.security.mfaOffReminderTotp'));
    // The page asks for the password once, at its top; turning MFA off without it is refused.
    expect(security.body).toMatch(
      /<form method="post" action="\/account\/security\/reauth"[^>]*>[\s\S]*?name="current_password"[\s\S]*?<\/form>/,
    );
    const missing = await submitForm(browser, security, '/account/security/mfa/off', {});
    expect(missing.status).toBe(400);
    expect(formErrors(missing.body)).toEqual([en('errors.REAUTH_REQUIRED')]);

    const wrong = await submitForm(browser, security, '/account/security/mfa/off', {
      current_password: WRONG_PASSWORD,
    });
    expect(wrong.status).toBe(401);
    expect(formErrors(wrong.body)).toEqual([en('errors.CURRENT_PASSWORD_WRONG')]);
    expectNoInternals(wrong);
    expect((await factors(user.id)).map((f) => f.state)).toEqual(['active']);
    expect(await recoveryRows(user.id)).toHaveLength(10);
    expect(mfaStatus(await open(browser, h.issuer, SECURITY))).toMatch(/^On: authenticator app/);
    expect(await auditTypes(h.app, user.id)).not.toContain('mfa.disabled');

    const off = await submitForm(browser, security, '/account/security/mfa/off', { current_password: TEST_PASSWORD });
    expect(off.status).toBe(303);
    expect(off.location).toBe(`${h.issuer}${SECURITY}?done=mfa-off`);
    const after = await landed(browser, off);
    expect(noticeText(after.body)).toBe(en('account.done.mfa-off'));
    expect(mfaStatus(after)).toBe(en('account.security.mfaNone'));
    expect(after.body).toContain('id="mfa-on"');
    expect(await factors(user.id)).toEqual([]);
    expect(await recoveryRows(user.id)).toEqual([]);

    const mail = await h.mail.waitFor(user.email, (m) => m.subject === en('emails.mfaDisabled.subject'));
    expect(mail.text).toContain(en('emails.mfaDisabled.intro'));
    expect(mail.text).toContain(en('emails.mfaDisabled.remove'));
    expect(await auditTypes(h.app, user.id)).toEqual(
      expect.arrayContaining(['mfa.enabled', 'reauth.failed', 'mfa.disabled']),
    );

    // The next login asks for the password only, straight back to the console.
    const next = new HttpClient(ENGLISH);
    const last = await loginThroughPages(next, `${h.issuer}/account`, `${h.issuer}/account/callback`, {
      email: user.email,
      password: TEST_PASSWORD,
    });
    expect(last.location).toMatch(new RegExp(`^${h.issuer}/account/callback\\?`));
    const hub = await signInToAccount(new HttpClient(ENGLISH), h.issuer, user.email);
    expect(hub.body).toContain(user.email);
    expect(recoveryCodes).toHaveLength(10);
  });
});
