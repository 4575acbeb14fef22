import type { Context } from 'koa';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { enqueueAccountMail, enqueueMail, enqueueSms } from '../../courier/outbox.js';
import type { AccountRow, FlowRow, MfaFactorRow } from '../../db/schema.js';
import { AppError } from '../../http/errors.js';
import { emailProblem, normalizeEmail } from '../../identity/accounts/email.js';
import { parsePhone } from '../../identity/accounts/phone.js';
import { findAccountByEmail, findAccountById } from '../../identity/accounts/repository.js';
import type { DuoGateway } from '../../identity/factors/duo.js';
import { proveSecondFactor, type MfaDeps, type SecondFactorProof } from '../../identity/factors/mfa.js';
import { activeFactor } from '../../identity/factors/repository.js';
import { replacePassword, type PasswordReplaceDeps } from '../../identity/password/replace.js';
import { recordAudit } from '../../security/audit.js';
import type { CodeHasher } from '../../security/codes.js';
import { consumeOrRefuse, limiterKey } from '../../security/rate-limit/limiters.js';
import type { SecondFactorThrottle } from '../../security/rate-limit/second-factor-throttle.js';
import { checkCode, codeError, codeMinutes, findFlow, insertFlow, issueCode, newFlowId, setFlowState, supersedeFlows } from '../flow.js';
import { RecoveryState, type RecoveryChannel, type RecoveryContext } from './state.js';

export interface RecoveryDeps extends MfaDeps, PasswordReplaceDeps {
  codes: CodeHasher;
  secondFactorThrottle: SecondFactorThrottle;
  perIp: RateLimiterAbstract;
  perAddress: RateLimiterAbstract;
}

const contextOf = (flow: FlowRow) => flow.context as unknown as RecoveryContext;

/** The flow, if it is live and where `states` say; otherwise the user starts again (FLOW_EXPIRED). */
async function flowIn(deps: RecoveryDeps, flowId: string, ...states: RecoveryState[]): Promise<FlowRow> {
  const flow = await findFlow(deps.db, flowId, 'recovery');
  if (!flow || !(states as string[]).includes(flow.state)) throw new AppError('FLOW_EXPIRED', 410);
  return flow;
}

async function accountOf(deps: RecoveryDeps, flow: FlowRow): Promise<AccountRow | undefined> {
  const account = flow.account_id ? await findAccountById(deps.db, flow.account_id) : undefined;
  return account?.status === 'active' ? account : undefined;
}

/**
 * R1: a reset starts from an address. A flow is made whether or not the address has an (active)
 * account, with the same writes, so neither the answer nor its timing tells them apart (R5).
 * Older unfinished resets for the address stop working.
 */
export async function startRecovery(deps: RecoveryDeps, input: { email: string; locale: 'ja' | 'en'; interaction?: string | undefined }, ip: string): Promise<string> {
  await consumeOrRefuse(deps.perIp, limiterKey('recovery', ip));
  const problem = emailProblem(input.email);
  if (problem) throw new AppError(problem);
  const email = normalizeEmail(input.email);
  const account = await findAccountByEmail(deps.db, email);
  const flowId = newFlowId();
  const context: RecoveryContext = { locale: input.locale, ...(input.interaction ? { interaction: input.interaction } : {}) };
  await deps.db.transaction().execute(async (trx) => {
    await supersedeFlows(trx, 'recovery', { email });
    await insertFlow(trx, {
      id: flowId, kind: 'recovery', state: RecoveryState.awaitingChannel,
      accountId: account?.status === 'active' ? account.id : null, email, context: { ...context },
      ttlSeconds: deps.config.recovery.flowTtlSeconds,
    });
  });
  return flowId;
}

/** "+81******5678": enough to recognise one's own number, not to learn it. */
export function maskPhone(e164: string): string {
  return `${e164.slice(0, 3)}${'*'.repeat(Math.max(e164.length - 7, 0))}${e164.slice(-4)}`;
}

/**
 * R2/R3: sends a code by email, or by SMS when the number typed is the account's verified mobile
 * number. A code is issued every time (a new one replaces the old), but it goes out only to an
 * account's own address or verified number: for anything else the page is the same and nothing
 * is sent (or, if configured, the address gets a "someone tried" notice).
 */
export async function sendRecoveryCode(deps: RecoveryDeps, flowId: string, channel: RecoveryChannel,
  phoneInput: { number: string; country: string } = { number: '', country: '' }): Promise<RecoveryContext> {
  const flow = await flowIn(deps, flowId, RecoveryState.awaitingChannel, RecoveryState.awaitingCode);
  let phone: string | undefined;
  if (channel === 'sms') {
    const parsed = parsePhone(phoneInput.number, phoneInput.country, true);
    if ('problem' in parsed) throw new AppError(parsed.problem);
    phone = parsed.e164;
  }
  await consumeOrRefuse(deps.perAddress, limiterKey('recovery-send', flow.email!));
  const account = await accountOf(deps, flow);
  const context: RecoveryContext = { ...contextOf(flow), channel, ...(phone ? { maskedPhone: maskPhone(phone) } : {}) };
  const minutes = codeMinutes(deps.config.codes);
  await deps.db.transaction().execute(async (trx) => {
    const code = await issueCode(trx, deps.codes, flowId, deps.config.codes);
    await trx.updateTable('flows').set({ state: RecoveryState.awaitingCode, context: JSON.stringify(context) })
      .where('id', '=', flowId).execute();
    if (channel === 'sms') {
      if (account?.phone_number_verified && account.phone_number === phone) {
        await enqueueSms(trx, deps.box, { to: phone!, template: 'recovery-code', locale: account.locale, data: { code, minutes } });
      }
    } else if (account) {
      await enqueueAccountMail(trx, deps.box, account, 'recovery-code', { code, minutes });
    } else if (deps.config.recovery.mailUnknownAddresses) {
      await enqueueMail(trx, deps.box, { to: flow.email!, template: 'recovery-unknown', locale: context.locale, data: {} });
    }
  });
  deps.mailQueued();
  return context;
}

/** The right code moves the reset on: to the second factor when the account has one (R4). */
export async function verifyResetCode(deps: RecoveryDeps, flowId: string, code: string): Promise<RecoveryState> {
  const flow = await flowIn(deps, flowId, RecoveryState.awaitingCode);
  if (!code.trim()) throw new AppError('CODE_REQUIRED');
  const { result, attemptsLeft } = await checkCode(deps.db, deps.codes, flowId, code, deps.config.codes);
  const account = await accountOf(deps, flow);
  if (result !== 'ok' || !account) throw codeError(result === 'ok' ? 'wrong' : result, attemptsLeft);
  const next = (await activeFactor(deps.db, account.id)) ? RecoveryState.awaitingSecondFactor : RecoveryState.awaitingPassword;
  if (!(await setFlowState(deps.db, flowId, RecoveryState.awaitingCode, next))) throw new AppError('FLOW_EXPIRED', 410);
  return next;
}

/** Where a reset stands, for the pages to show the right step (undefined: start again). */
export async function recoveryProgress(deps: RecoveryDeps, flowId: string): Promise<{ state: RecoveryState; email: string; context: RecoveryContext } | undefined> {
  const flow = await findFlow(deps.db, flowId, 'recovery');
  if (!flow || flow.state === RecoveryState.completed || flow.state === RecoveryState.superseded) return undefined;
  return { state: flow.state as RecoveryState, email: flow.email!, context: contextOf(flow) };
}

/** The login a reset came from, also once it was finished or started again elsewhere (not once expired). */
export async function recoveryInteraction(deps: RecoveryDeps, flowId: string): Promise<string | undefined> {
  const flow = await findFlow(deps.db, flowId, 'recovery');
  return flow && contextOf(flow).interaction;
}

/** The account and factor of a reset that waits for its second factor (R4). */
async function secondFactorOf(deps: RecoveryDeps, flowId: string): Promise<{ account: AccountRow; factor: MfaFactorRow }> {
  const flow = await flowIn(deps, flowId, RecoveryState.awaitingSecondFactor);
  const account = await accountOf(deps, flow);
  const factor = account && await activeFactor(deps.db, account.id);
  if (!account || !factor) throw new AppError('FLOW_EXPIRED', 410);
  return { account, factor };
}

export async function recoverySecondFactorKind(deps: RecoveryDeps, flowId: string): Promise<MfaFactorRow['kind']> {
  return (await secondFactorOf(deps, flowId)).factor.kind;
}

async function secondFactorPassed(deps: RecoveryDeps, flowId: string): Promise<void> {
  if (!(await setFlowState(deps.db, flowId, RecoveryState.awaitingSecondFactor, RecoveryState.awaitingPassword))) {
    throw new AppError('FLOW_EXPIRED', 410);
  }
}

/** R4: an account with MFA passes its second factor (authenticator code or recovery code) too. */
export async function passRecoverySecondFactor(deps: RecoveryDeps, flowId: string, proof: SecondFactorProof, ip: string, ctx?: Context): Promise<void> {
  const { factor } = await secondFactorOf(deps, flowId);
  await proveSecondFactor(deps, deps.secondFactorThrottle, factor, proof, ip, { ctx, wrong: true, details: { during: 'password_reset' } });
  await secondFactorPassed(deps, flowId);
}

/** R4 with Duo: off to Duo's prompt for the account's address (DUO_UNAVAILABLE when Duo is down). */
export async function startRecoveryDuo(deps: RecoveryDeps, duo: DuoGateway, flowId: string, redirectUrl: string): Promise<{ url: string; state: string }> {
  const { account, factor } = await secondFactorOf(deps, flowId);
  if (factor.kind !== 'duo') throw new AppError('FLOW_EXPIRED', 410);
  return duo.start(redirectUrl, account.email);
}

/** Back from Duo: the state this browser was given, and Duo approved this account. */
export async function passRecoveryDuo(deps: RecoveryDeps, duo: DuoGateway, flowId: string, redirectUrl: string,
  expectedState: string | undefined, query: Record<string, unknown>, ctx?: Context): Promise<void> {
  const { account, factor } = await secondFactorOf(deps, flowId);
  if (factor.kind !== 'duo' || !(await duo.approved(redirectUrl, account.email, expectedState, query))) {
    await recordAudit(deps.db, { type: 'mfa.failed', accountId: account.id, details: { during: 'password_reset', kind: 'duo' } }, ctx);
    throw new AppError('DUO_DENIED', 401);
  }
  await secondFactorPassed(deps, flowId);
}

/**
 * The new password, twice, under the whole policy (the minimum age only if the policy says so
 * for resets, PW5). Then every session and refresh token of the account ends and a notice mail
 * goes out.
 */
export async function resetPassword(deps: RecoveryDeps, flowId: string, password: string, confirmation: string, ctx?: Context): Promise<{ email: string; context: RecoveryContext }> {
  const flow = await flowIn(deps, flowId, RecoveryState.awaitingPassword);
  const account = await accountOf(deps, flow);
  if (!account) throw new AppError('FLOW_EXPIRED', 410);
  await replacePassword(deps, account, {
    password, confirmation, isReset: true,
    audit: { type: 'password.reset', accountId: account.id, details: { channel: contextOf(flow).channel } },
    alongside: async (trx) => {
      if (!(await setFlowState(trx, flowId, RecoveryState.awaitingPassword, RecoveryState.completed))) {
        throw new AppError('FLOW_EXPIRED', 410);
      }
    },
  }, ctx);
  return { email: account.email, context: contextOf(flow) };
}
