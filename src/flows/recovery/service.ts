import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { enqueueAccountMail, enqueueMail, enqueueSms } from '../../courier/outbox.js';
import type { AccountRow, MfaFactorRow } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import type { RequestMeta } from '../../request-meta.js';
import { emailProblem, normalizeEmail } from '../../identity/accounts/email.js';
import { parsePhone } from '../../identity/accounts/phone.js';
import { formatPhone } from '../../text/format.js';
import { releaseLock } from '../../identity/accounts/lock.js';
import { findAccountByEmail, findAccountById } from '../../identity/accounts/repository.js';
import type { DuoHandshake, DuoTrip, PendingDuo } from '../../identity/factors/duo-handshake.js';
import { proveSecondFactor, type MfaDeps, type SecondFactorProof } from '../../identity/factors/mfa.js';
import { activeFactor } from '../../identity/factors/repository.js';
import { replacePassword, type PasswordReplaceDeps } from '../../identity/password/replace.js';
import { recordAudit } from '../../security/audit.js';
import type { CodeHasher } from '../../security/codes.js';
import { consumeOrRefuse, limiterKey } from '../../security/rate-limit/limiters.js';
import type { SendCap } from '../../security/rate-limit/send-cap.js';
import { credentialSubject, type CredentialThrottle } from '../../security/rate-limit/credential-throttle.js';
import type { SecondFactorThrottle } from '../../security/rate-limit/second-factor-throttle.js';
import type { SmsCaps } from '../../security/rate-limit/sms-caps.js';
import { codeSubject, type CodeThrottle } from '../../security/rate-limit/code-throttle.js';
import type { DeviceTrust } from '../../security/device-trust.js';
import { checkCountedCode, codeError, codeMinutes, issueCode } from '../kernel/codes.js';
import { FlowExpired } from '../kernel/flow-expired.js';
import { expectState, moveFlow, startFlow, type FlowOf } from '../kernel/store.js';
import { RecoveryFlow, type RecoveryChannel, type RecoveryContext, type RecoveryState } from './state.js';

export type RecoveryFlowRecord = FlowOf<typeof RecoveryFlow>;

export interface RecoveryDeps extends MfaDeps, PasswordReplaceDeps {
  codes: CodeHasher;
  codeThrottle: CodeThrottle;
  deviceTrust: DeviceTrust;
  smsCaps: SmsCaps;
  secondFactorThrottle: SecondFactorThrottle;
  credentialThrottle: CredentialThrottle;
  perIp: RateLimiterAbstract;
  /** Codes sent per address: strangers' browsers, each trusted browser, and a ceiling over all. */
  sendCap: SendCap;
}

async function accountOf(deps: RecoveryDeps, flow: RecoveryFlowRecord): Promise<AccountRow | undefined> {
  const account = flow.accountId ? await findAccountById(deps.db, flow.accountId) : undefined;
  return account?.status === 'active' ? account : undefined;
}

/**
 * R1: a reset starts from an address. A flow is made whether or not the address has an (active)
 * account, with the same writes, so neither the answer nor its timing tells them apart (R5).
 * The reset this browser had open (`previous`, its flow cookie) stops working; resets in other
 * browsers do not: a stranger starting a reset for the address must not end the owner's.
 */
export async function startRecovery(
  deps: RecoveryDeps,
  input: { email: string; interaction?: string | undefined; previous?: string | undefined },
  meta: RequestMeta,
): Promise<string> {
  await consumeOrRefuse(deps.perIp, limiterKey('recovery', meta.ip));
  const problem = emailProblem(input.email);
  if (problem) throw new AppError(problem);
  const email = normalizeEmail(input.email);
  const account = await findAccountByEmail(deps.db, email);
  const context: RecoveryContext = {
    locale: meta.locale,
    ...(input.interaction ? { interaction: input.interaction } : {}),
  };
  const flow = await deps.db.transaction().execute((trx) =>
    startFlow(trx, RecoveryFlow, deps.config, {
      accountId: account?.status === 'active' ? account.id : null,
      email,
      context,
      owner: { browserFlow: input.previous },
    }),
  );
  return flow.id;
}

/**
 * R2/R3: sends a code by email, or by SMS when the number typed is the account's verified mobile
 * number. A code is issued every time (a new one replaces the old), but it goes out only to an
 * account's own address or verified number: for anything else the page is the same and nothing
 * is sent (or, if configured, the address gets a "someone tried" notice).
 *
 * An SMS request passes the SMS caps (allowed countries, per IP, per calling code, global)
 * whether or not a text will go out: the answer must not tell whether the number is the
 * account's (R5), so the caps count requests for texts, not texts sent.
 *
 * `deviceCookie`: the browser's device cookie. A browser that logged in to the account before
 * is counted on its own, so strangers asking for codes do not use up the owner's (send-cap.ts).
 */
export async function sendRecoveryCode(
  deps: RecoveryDeps,
  flow: RecoveryFlowRecord,
  channel: RecoveryChannel,
  meta: RequestMeta,
  phoneInput: { number: string; country: string } = { number: '', country: '' },
  deviceCookie?: string,
): Promise<RecoveryContext> {
  expectState(flow, 'awaiting_channel', 'awaiting_code');
  let phone: string | undefined;
  if (channel === 'sms') {
    const parsed = parsePhone(phoneInput.number, phoneInput.country, true);
    if ('problem' in parsed) throw new AppError(parsed.problem);
    deps.smsCaps.checkDestination(parsed.e164);
    phone = parsed.e164;
  }
  await deps.sendCap.admit(flow.email, {
    device: flow.accountId ? deps.deviceTrust.nonceFor(deviceCookie, flow.accountId) : undefined,
  });
  if (phone) await deps.smsCaps.admit(meta.ip, phone);
  const account = await accountOf(deps, flow);
  const context: RecoveryContext = {
    ...flow.context,
    channel,
    ...(phone ? { maskedPhone: formatPhone(phone, { masked: true }) } : {}),
  };
  const minutes = codeMinutes(deps.config.codes);
  await deps.db.transaction().execute(async (trx) => {
    await moveFlow(trx, RecoveryFlow, flow, 'awaiting_code', { context });
    const code = await issueCode(trx, deps.codes, flow.id, deps.config.codes);
    if (channel === 'sms') {
      if (account?.phone_number_verified && account.phone_number === phone) {
        await enqueueSms(trx, deps.box, {
          to: phone,
          template: 'recovery-code',
          locale: account.locale,
          data: { code, minutes },
        });
      }
    } else if (account) {
      await enqueueAccountMail(trx, deps.box, account, 'recovery-code', { code, minutes });
    } else if (deps.config.recovery.mailUnknownAddresses) {
      await enqueueMail(trx, deps.box, {
        to: flow.email,
        template: 'recovery-unknown',
        locale: context.locale,
        data: {},
      });
    }
  });
  deps.mailQueued();
  return context;
}

/**
 * The right code moves the reset on: to the second factor when the account has one (R4). Every
 * try counts against the account's daily cap on wrong codes first (an address without an account
 * against the address's, the same way), and every code that does not work is audited.
 * `deviceCookie`: the browser's device cookie, whose own counter spares the owner a cap that
 * strangers used up.
 */
export async function verifyResetCode(
  deps: RecoveryDeps,
  flow: RecoveryFlowRecord,
  code: string,
  meta: RequestMeta,
  deviceCookie?: string,
): Promise<RecoveryState> {
  expectState(flow, 'awaiting_code');
  if (!code.trim()) throw new AppError(flow.context.channel === 'sms' ? 'SMS_CODE_REQUIRED' : 'CODE_REQUIRED');
  const account = await accountOf(deps, flow);
  const { result, attemptsLeft } = await checkCountedCode(
    deps,
    {
      flowId: flow.id,
      code,
      purpose: 'reset',
      channel: flow.context.channel ?? 'email',
      subject: codeSubject(flow.accountId, flow.email),
      accountId: flow.accountId,
      device: flow.accountId ? deps.deviceTrust.nonceFor(deviceCookie, flow.accountId) : undefined,
      usable: account !== undefined,
    },
    meta,
  );
  if (result !== 'ok' || !account) throw codeError(result === 'ok' ? 'wrong' : result, attemptsLeft);
  const next = (await activeFactor(deps.db, account.id)) ? 'awaiting_second_factor' : 'awaiting_password';
  await moveFlow(deps.db, RecoveryFlow, flow, next);
  return next;
}

/** The account and factor of a reset that waits for its second factor (R4); gone, the reset ends. */
export async function secondFactorOf(
  deps: RecoveryDeps,
  flow: RecoveryFlowRecord,
): Promise<{ account: AccountRow; factor: MfaFactorRow }> {
  expectState(flow, 'awaiting_second_factor');
  const account = await accountOf(deps, flow);
  const factor = account && (await activeFactor(deps.db, account.id));
  if (!account || !factor) throw FlowExpired.of(flow);
  return { account, factor };
}

/** R4: an account with MFA passes its second factor (authenticator code or recovery code) too. */
export async function passRecoverySecondFactor(
  deps: RecoveryDeps,
  flow: RecoveryFlowRecord,
  proof: SecondFactorProof,
  meta: RequestMeta,
): Promise<void> {
  const { factor } = await secondFactorOf(deps, flow);
  await proveSecondFactor(deps, deps.secondFactorThrottle, factor, proof, meta, {
    wrong: true,
    details: { during: 'password_reset' },
  });
  await moveFlow(deps.db, RecoveryFlow, flow, 'awaiting_password');
}

const duoTrip = (flow: RecoveryFlowRecord, account: { email: string }, callbackUrl: string): DuoTrip => ({
  callbackUrl,
  username: account.email,
  boundTo: flow.id,
});

/** R4 with Duo: off to Duo's prompt for the account's address (DUO_UNAVAILABLE when Duo is down). */
export async function startRecoveryDuo(
  deps: RecoveryDeps,
  duo: DuoHandshake,
  flow: RecoveryFlowRecord,
  callbackUrl: string,
): Promise<{ url: string; pending: PendingDuo }> {
  const { account, factor } = await secondFactorOf(deps, flow);
  if (factor.kind !== 'duo') throw FlowExpired.of(flow);
  return duo.start(duoTrip(flow, account, callbackUrl));
}

/** Back from Duo: the trip this browser started for this reset, and Duo approved this account. */
export async function passRecoveryDuo(
  deps: RecoveryDeps,
  duo: DuoHandshake,
  flow: RecoveryFlowRecord,
  callbackUrl: string,
  kept: unknown,
  query: Record<string, unknown>,
  meta: RequestMeta,
): Promise<void> {
  const { account, factor } = await secondFactorOf(deps, flow);
  if (factor.kind !== 'duo' || !(await duo.finish(duoTrip(flow, account, callbackUrl), kept, query)).approved) {
    await recordAudit(
      deps.db,
      { type: 'mfa.failed', accountId: account.id, details: { during: 'password_reset', kind: 'duo' } },
      meta,
    );
    throw new AppError('DUO_DENIED');
  }
  await moveFlow(deps.db, RecoveryFlow, flow, 'awaiting_password');
}

/**
 * The new password, twice, under the whole policy (the minimum age only if the policy says so
 * for resets, PW5). Then every session and refresh token of the account ends and a notice mail
 * goes out.
 */
export async function resetPassword(
  deps: RecoveryDeps,
  flow: RecoveryFlowRecord,
  password: string,
  confirmation: string,
  meta?: RequestMeta,
): Promise<{ email: string; context: RecoveryContext }> {
  expectState(flow, 'awaiting_password');
  const account = await accountOf(deps, flow);
  if (!account) throw FlowExpired.of(flow);
  const lock = { released: false };
  await replacePassword(
    deps,
    account,
    {
      password,
      confirmation,
      isReset: true,
      audit: { type: 'password.reset', accountId: account.id, details: { channel: flow.context.channel } },
      alongside: async (trx) => {
        await moveFlow(trx, RecoveryFlow, flow, 'completed');
        // The owner proved the address: a lock from wrong passwords goes with the old password.
        lock.released = await releaseLock(trx, account.id);
        if (lock.released) {
          await recordAudit(
            trx,
            { type: 'account.unlocked', accountId: account.id, details: { by: 'password_reset' } },
            meta,
          );
        }
      },
    },
    meta,
  );
  // Its run of wrong passwords starts again too (lock.ts: unlockAccount does the same).
  if (lock.released) await deps.credentialThrottle.clear(credentialSubject(account, account.email));
  return { email: account.email, context: flow.context };
}
