import { AppError, FormError } from '../../../src/http/errors.js';
import { passRecoverySecondFactor, resetPassword, sendRecoveryCode, startRecovery, verifyResetCode, type RecoveryDeps } from '../../../src/flows/recovery/service.js';
import { RecoveryState } from '../../../src/flows/recovery/state.js';
import { findAccountById } from '../../../src/identity/accounts/repository.js';
import { SecondFactorThrottle } from '../../../src/security/rate-limit/second-factor-throttle.js';
import { createLimiter } from '../../../src/security/rate-limit/limiters.js';
import { NEW_PASSWORD, open, signedInUser, startAccountHarness, type AccountHarness } from '../../helpers/account.js';
import { registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { enableTotp, totpCode } from '../../helpers/mfa.js';
import { codeIn } from '../../helpers/smtp.js';

// Issue 6 groundwork: the reset flow's service layer (R2-R5, PW5) on real PostgreSQL + Redis,
// real SMTP and a fake SMS provider. The pages come with the rest of issue 6.
describe('password reset service (R2-R5)', () => {
  let h: AccountHarness;
  let deps: RecoveryDeps;
  beforeAll(async () => {
    h = await startAccountHarness();
    const { app } = h;
    deps = {
      ...app, revoker: app.revoker, mailQueued: () => app.courier.kick(),
      secondFactorThrottle: new SecondFactorThrottle(app.limiterStore, app.config.mfa),
      perIp: createLimiter(app.limiterStore, 'recovery:ip', app.config.recovery.perIp),
      perAddress: createLimiter(app.limiterStore, 'recovery:address', app.config.recovery.perAddress),
    };
  });
  afterAll(async () => { await h.close(); });

  const outboxFor = (to: string) => h.app.db.selectFrom('outbox').select('template').where('recipient', '=', to).execute();

  it('resets by email: code, new password, every session ends, notice mail', async () => {
    const { user, browser } = await signedInUser(h);
    const flowId = await startRecovery(deps, { email: user.email.toUpperCase(), locale: 'en' }, '10.0.0.1');
    await sendRecoveryCode(deps, flowId, 'email');
    const code = codeIn(await h.mail.waitFor(user.email, (m) => /reset code/.test(m.subject)));
    expect(await verifyResetCode(deps, flowId, code)).toBe(RecoveryState.awaitingPassword);
    // The password was set moments ago: the minimum age does not block a reset by default (PW5).
    await resetPassword(deps, flowId, NEW_PASSWORD, NEW_PASSWORD);
    const account = await findAccountById(h.app.db, user.id);
    expect(await h.app.hasher.verify(NEW_PASSWORD, account!.password_hash!)).toBe(true);
    await h.mail.waitFor(user.email, (m) => /password was changed/.test(m.subject));
    const console = await open(browser, h.issuer, '/account');
    expect(console.status).toBe(303);
    // The flow is spent: the same code and a second reset both fail.
    await expect(resetPassword(deps, flowId, NEW_PASSWORD, NEW_PASSWORD)).rejects.toMatchObject({ code: 'FLOW_EXPIRED' });
  });

  it('refuses a weak or reused password with every broken rule, and keeps the flow open', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const flowId = await startRecovery(deps, { email: user.email, locale: 'en' }, '10.0.0.2');
    await sendRecoveryCode(deps, flowId, 'email');
    await verifyResetCode(deps, flowId, codeIn(await h.mail.waitFor(user.email)));
    const weak = await resetPassword(deps, flowId, 'short', 'other').catch((err: unknown) => err);
    expect(weak).toBeInstanceOf(FormError);
    expect((weak as FormError).codes).toEqual(expect.arrayContaining(['PASSWORD_TOO_SHORT', 'PASSWORD_MISMATCH']));
    const reused = await resetPassword(deps, flowId, TEST_PASSWORD, TEST_PASSWORD).catch((err: unknown) => err);
    expect((reused as FormError).codes).toEqual(['PASSWORD_IN_HISTORY']);
    await resetPassword(deps, flowId, NEW_PASSWORD, NEW_PASSWORD);
  });

  it('a new code replaces the old one', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const flowId = await startRecovery(deps, { email: user.email, locale: 'en' }, '10.0.0.3');
    await sendRecoveryCode(deps, flowId, 'email');
    const first = codeIn(await h.mail.waitFor(user.email));
    await sendRecoveryCode(deps, flowId, 'email');
    const second = codeIn(await h.mail.waitFor(user.email, (m) => codeIn(m) !== first));
    await expect(verifyResetCode(deps, flowId, first)).rejects.toMatchObject({ code: 'CODE_WRONG' });
    expect(await verifyResetCode(deps, flowId, second)).toBe(RecoveryState.awaitingPassword);
  });

  it('an address without an account gets the same flow and no mail; no code can ever be right', async () => {
    const email = `nobody-${Date.now()}@example.com`;
    const flowId = await startRecovery(deps, { email, locale: 'en' }, '10.0.0.4');
    const context = await sendRecoveryCode(deps, flowId, 'email');
    expect(context.channel).toBe('email');
    await new Promise((r) => setTimeout(r, 500));
    expect(await outboxFor(email)).toEqual([]);
    expect(h.mail.mailsTo(email)).toEqual([]);
    const flow = await h.app.db.selectFrom('flows').select(['code_hmac', 'state']).where('id', '=', flowId).executeTakeFirstOrThrow();
    expect(flow.code_hmac).not.toBeNull();
    expect(flow.state).toBe(RecoveryState.awaitingCode);
    await expect(verifyResetCode(deps, flowId, '123456')).rejects.toBeInstanceOf(AppError);
  });

  it('by SMS only to the account\'s verified number; another number gets the same answer and nothing', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const phone = `+8190${String(Date.now()).slice(-8)}`;
    await h.app.db.updateTable('accounts').set({ phone_number: phone, phone_number_verified: true }).where('id', '=', user.id).execute();
    const stranger = await startRecovery(deps, { email: user.email, locale: 'en' }, '10.0.0.5');
    const other = `+8180${String(Date.now()).slice(-8)}`;
    const masked = await sendRecoveryCode(deps, stranger, 'sms', { number: other, country: '' });
    expect(masked.maskedPhone).toBe(`+81${'*'.repeat(other.length - 7)}${other.slice(-4)}`);
    const flowId = await startRecovery(deps, { email: user.email, locale: 'en' }, '10.0.0.5');
    await sendRecoveryCode(deps, flowId, 'sms', { number: phone, country: '' });
    const sms = await h.sms.waitFor(phone);
    const code = sms.body.match(/\b(\d{6,10})\b/)![1]!;
    expect(h.sms.messages.filter((m) => m.to === other)).toEqual([]);
    expect(await verifyResetCode(deps, flowId, code)).toBe(RecoveryState.awaitingPassword);
    // The older flow was superseded by the new start.
    await expect(verifyResetCode(deps, stranger, code)).rejects.toMatchObject({ code: 'FLOW_EXPIRED' });
  });

  it('an account with MFA passes its second factor before the new password (R4)', async () => {
    const { user, browser } = await signedInUser(h);
    const { secret } = await enableTotp(browser, h.issuer);
    const flowId = await startRecovery(deps, { email: user.email, locale: 'en' }, '10.0.0.6');
    await sendRecoveryCode(deps, flowId, 'email');
    const code = codeIn(await h.mail.waitFor(user.email, (m) => /reset code/.test(m.subject)));
    expect(await verifyResetCode(deps, flowId, code)).toBe(RecoveryState.awaitingSecondFactor);
    await expect(resetPassword(deps, flowId, NEW_PASSWORD, NEW_PASSWORD)).rejects.toMatchObject({ code: 'FLOW_EXPIRED' });
    await expect(passRecoverySecondFactor(deps, flowId, { totp: '000000' }, '10.0.0.6')).rejects.toMatchObject({ code: 'MFA_CODE_WRONG' });
    await passRecoverySecondFactor(deps, flowId, { totp: totpCode(secret, 1) }, '10.0.0.6');
    await resetPassword(deps, flowId, NEW_PASSWORD, NEW_PASSWORD);
  });
});
