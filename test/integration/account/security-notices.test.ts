/**
 * The owner hears at their address of every change to what can reach or unlock the account:
 * a mobile number added, changed or removed, recovery codes renewed or one used (MFA on and off
 * have their own mails). Changing the second factor ends the account's other sessions.
 */
import {
  ENGLISH,
  expectSentToLogin,
  landed,
  open,
  openAndSubmit,
  signInToAccount,
  signedInUser,
  startAccountHarness,
  type AccountHarness,
} from '../../helpers/account.js';
import { en, ja, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, submitForm } from '../../helpers/http-client.js';
import { enableTotp, signInToAccountWithMfa, totpCode } from '../../helpers/mfa.js';
import { registerPhone } from '../../helpers/recovery.js';
import type { CaughtMail } from '../../helpers/smtp.js';

const FIRST = { national: '090-1234-5678', e164: '+819012345678' };
const SECOND = { national: '080-9876-5432', e164: '+818098765432' };

describe('security notices and sessions after a factor changes', () => {
  let h: AccountHarness;
  beforeAll(async () => {
    h = await startAccountHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const notice = (email: string, subject: string): Promise<CaughtMail> =>
    h.mail.waitFor(email, (m) => m.subject === subject);

  it('mails the owner when a mobile number is added, changed and removed, with the number masked', async () => {
    const { user, browser } = await signedInUser(h);
    await registerPhone(browser, h.issuer, h.sms, FIRST);
    const added = await notice(user.email, en('emails.securityNotice.phoneAdded.subject'));
    expect(added.text).toContain(en('emails.securityNotice.phoneAdded.intro', { phone: '+81 ** **** 5678' }));
    expect(added.text).not.toContain(FIRST.e164);
    expect(added.text).toContain(`${h.issuer}/recovery`);

    await registerPhone(browser, h.issuer, h.sms, SECOND);
    const changed = await notice(user.email, en('emails.securityNotice.phoneChanged.subject'));
    expect(changed.text).toContain(en('emails.securityNotice.phoneChanged.intro', { phone: '+81 ** **** 5432' }));

    const security = await open(browser, h.issuer, '/account/security');
    const removed = await submitForm(browser, security, '/account/security/phone/remove', {
      current_password: TEST_PASSWORD,
    });
    expect(removed.status).toBe(303);
    const gone = await notice(user.email, en('emails.securityNotice.phoneRemoved.subject'));
    expect(gone.text).toContain(en('emails.securityNotice.phoneRemoved.intro', { phone: '+81 ** **** 5432' }));
  });

  it('mails the owner when recovery codes are renewed, and when one is used (in their language)', async () => {
    const user = await registerUser(h.app, { locale: 'ja' });
    const browser = new HttpClient(ENGLISH);
    await signInToAccount(browser, h.issuer, user.email);
    const { secret, recoveryCodes } = await enableTotp(browser, h.issuer);

    const renewed = await landed(
      browser,
      await openAndSubmit(browser, h.issuer, '/account/security', '/account/security/mfa/recovery-codes', {
        current_password: TEST_PASSWORD,
      }),
    );
    expect(renewed.status).toBe(200);
    const renewal = await notice(user.email, ja('emails.securityNotice.recoveryCodesRenewed.subject'));
    expect(renewal.text).toContain(ja('emails.securityNotice.recoveryCodesRenewed.intro'));
    const fresh = [...renewed.body.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]!);
    expect(fresh).toHaveLength(10);
    expect(fresh).not.toContain(recoveryCodes[0]);

    await signInToAccountWithMfa(new HttpClient(ENGLISH), h.issuer, user.email, { recoveryCode: fresh[0]! });
    const used = await notice(user.email, ja('emails.securityNotice.recoveryCodeUsed.subject'));
    expect(used.text).toContain(ja('emails.securityNotice.recoveryCodeUsed.intro', { remaining: 9 }));
    // An authenticator code sends nothing.
    const before = h.mail.mailsTo(user.email).length;
    await signInToAccountWithMfa(new HttpClient(ENGLISH), h.issuer, user.email, { code: totpCode(secret, 1) });
    expect(h.mail.mailsTo(user.email)).toHaveLength(before);
  });

  it('turning MFA on ends the other sessions of the account, not the one that turned it on', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const other = new HttpClient(ENGLISH);
    await signInToAccount(other, h.issuer, user.email);
    const browser = new HttpClient(ENGLISH);
    await signInToAccount(browser, h.issuer, user.email);

    await enableTotp(browser, h.issuer);
    expect((await open(browser, h.issuer, '/account')).status).toBe(200);
    await expectSentToLogin(other, h.issuer, await open(other, h.issuer, '/account'));
  });

  it('turning MFA off ends the other sessions too', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new HttpClient(ENGLISH);
    await signInToAccount(browser, h.issuer, user.email);
    const { secret } = await enableTotp(browser, h.issuer);
    const other = new HttpClient(ENGLISH);
    await signInToAccountWithMfa(other, h.issuer, user.email, { code: totpCode(secret, 1) });
    expect((await open(other, h.issuer, '/account')).status).toBe(200);

    const off = await openAndSubmit(browser, h.issuer, '/account/security', '/account/security/mfa/off', {
      current_password: TEST_PASSWORD,
    });
    expect(off.status).toBe(303);
    expect((await open(browser, h.issuer, '/account')).status).toBe(200);
    await expectSentToLogin(other, h.issuer, await open(other, h.issuer, '/account'));
  });
});
