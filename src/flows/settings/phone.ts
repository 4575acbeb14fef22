import type { Context } from 'koa';
import { enqueueSms } from '../../courier/outbox.js';
import { AppError, FormError } from '../../http/errors.js';
import { negotiateLocale } from '../../http/i18n.js';
import { seeOther, setSignedCookie } from '../../http/page.js';
import { formField } from '../../interactions/context.js';
import { callingCodeOptions, parsePhone } from '../../identity/accounts/phone.js';
import { recordAudit } from '../../security/audit.js';
import { consumeOrRefuse, limiterKey } from '../../security/rate-limit/limiters.js';
import { checkCode, codeError, codeMinutes, findFlow, insertFlow, issueCode, newFlowId, setFlowState, supersedeFlows } from '../flow.js';
import { signedIn, type SettingsDeps } from './context.js';
import { confirmPassword } from './reauth.js';
import { done, handleForm, renderAccountPage } from './render.js';

const FLOW_COOKIE = 'monban_phone';

export function showPhoneForm(ctx: Context, deps: SettingsDeps, values: { country?: string; number?: string } = {}, error?: AppError | FormError): void {
  const { account } = signedIn(ctx);
  const country = values.country ?? account.country ?? 'JP';
  renderAccountPage(ctx, deps, 'account/phone', 'security', {
    values: { number: values.number ?? '' },
    countries: callingCodeOptions(negotiateLocale(ctx, deps.config.locales.default)).map((c) => ({ ...c, selected: c.code === country })),
  }, error);
}

async function pendingFlow(ctx: Context, deps: SettingsDeps) {
  const id = ctx.cookies.get(FLOW_COOKIE, { signed: true });
  const flow = id ? await findFlow(deps.db, id, 'phone_verification') : undefined;
  return flow && flow.account_id === signedIn(ctx).account.id && flow.state === 'awaiting_code' ? flow : undefined;
}

/**
 * PR6 step 1: password, country code and number. The number is checked and turned into E.164,
 * then a code goes to it by SMS; it counts (and can reset a password) only once confirmed.
 */
export async function startPhoneChange(ctx: Context, deps: SettingsDeps): Promise<void> {
  const current = signedIn(ctx);
  const { account } = current;
  const values = { country: formField(ctx, 'country'), number: formField(ctx, 'number').slice(0, 100) };
  await handleForm(ctx, async () => {
    await confirmPassword(ctx, deps, current, formField(ctx, 'current_password'));
    const parsed = parsePhone(values.number, values.country, true);
    if ('problem' in parsed) throw new AppError(parsed.problem);
    await consumeOrRefuse(deps.smsPerAccount, limiterKey('sms', account.id));
    const flowId = newFlowId();
    await deps.db.transaction().execute(async (trx) => {
      await supersedeFlows(trx, 'phone_verification', { accountId: account.id });
      await insertFlow(trx, {
        id: flowId, kind: 'phone_verification', state: 'awaiting_code', accountId: account.id, email: account.email,
        context: { phone: parsed.e164 }, ttlSeconds: deps.config.account.phoneFlowTtlSeconds,
      });
      const code = await issueCode(trx, deps.codes, flowId, deps.config.codes);
      await enqueueSms(trx, deps.box, {
        to: parsed.e164, template: 'phone-verification', locale: account.locale,
        data: { code, minutes: codeMinutes(deps.config.codes) },
      });
    });
    deps.mailQueued();
    setSignedCookie(ctx, deps.config, FLOW_COOKIE, flowId, { path: '/account', maxAgeMs: deps.config.account.phoneFlowTtlSeconds * 1000 });
    seeOther(ctx, '/account/security/phone/verify');
  }, (error) => showPhoneForm(ctx, deps, values, error));
}

export async function showPhoneVerify(ctx: Context, deps: SettingsDeps, error?: AppError): Promise<void> {
  const flow = await pendingFlow(ctx, deps);
  if (!flow) {
    return seeOther(ctx, '/account/security/phone');
  }
  renderAccountPage(ctx, deps, 'account/phone-verify', 'security', {
    phone: (flow.context as { phone: string }).phone,
    digits: deps.config.codes.digits,
  }, error);
}

/** PR6 step 2: the code from the SMS makes the number the account's verified mobile number. */
export async function confirmPhone(ctx: Context, deps: SettingsDeps): Promise<void> {
  const { account } = signedIn(ctx);
  const flow = await pendingFlow(ctx, deps);
  if (!flow) {
    return seeOther(ctx, '/account/security/phone');
  }
  const code = formField(ctx, 'code').slice(0, 64);
  if (!code.trim()) return showPhoneVerify(ctx, deps, new AppError('SMS_CODE_REQUIRED'));
  const { result, attemptsLeft } = await checkCode(deps.db, deps.codes, flow.id, code, deps.config.codes);
  if (result !== 'ok') return showPhoneVerify(ctx, deps, codeError(result, attemptsLeft));
  const phone = (flow.context as { phone: string }).phone;
  await deps.db.transaction().execute(async (trx) => {
    if (!(await setFlowState(trx, flow.id, 'awaiting_code', 'completed'))) throw new AppError('FLOW_EXPIRED', 410);
    await trx.updateTable('accounts').set({ phone_number: phone, phone_number_verified: true, updated_at: new Date() })
      .where('id', '=', account.id).execute();
    await recordAudit(trx, { type: 'phone.added', accountId: account.id }, ctx);
  });
  ctx.cookies.set(FLOW_COOKIE, null, { path: '/account' });
  done(ctx, '/account/security', 'phone-added');
}

/** PR6: switching the number off re-confirms the password. */
export async function removePhone(ctx: Context, deps: SettingsDeps, showSecurity: (error: AppError | FormError) => Promise<void>): Promise<void> {
  const current = signedIn(ctx);
  await handleForm(ctx, async () => {
    await confirmPassword(ctx, deps, current, formField(ctx, 'current_password'));
    await deps.db.updateTable('accounts').set({ phone_number: null, phone_number_verified: false, updated_at: new Date() })
      .where('id', '=', current.account.id).execute();
    await recordAudit(deps.db, { type: 'phone.removed', accountId: current.account.id }, ctx);
    done(ctx, '/account/security', 'phone-removed');
  }, showSecurity);
}
