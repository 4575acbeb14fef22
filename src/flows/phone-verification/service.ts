import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../../config/schema.js';
import { enqueueAccountMail, enqueueSms } from '../../courier/outbox.js';
import type { Db } from '../../db/database.js';
import type { AccountRow } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { parsePhone } from '../../identity/accounts/phone.js';
import { formatPhone } from '../../text/format.js';
import type { RequestMeta } from '../../request-meta.js';
import { recordAudit } from '../../security/audit.js';
import type { CodeHasher } from '../../security/codes.js';
import { consumeOrRefuse, limiterKey } from '../../security/rate-limit/limiters.js';
import type { SecretBox } from '../../security/secret-box.js';
import type { SmsCaps } from '../../security/rate-limit/sms-caps.js';
import { codeSubject, type CodeThrottle } from '../../security/rate-limit/code-throttle.js';
import { checkCountedCode, codeError, codeMinutes, issueCode } from '../kernel/codes.js';
import { moveFlow, startFlow, type FlowOf } from '../kernel/store.js';
import { PhoneVerificationFlow } from './state.js';

export type PhoneVerificationRecord = FlowOf<typeof PhoneVerificationFlow>;

export interface PhoneVerificationDeps {
  config: Readonly<Config>;
  db: Db;
  box: SecretBox;
  codes: CodeHasher;
  codeThrottle: CodeThrottle;
  smsPerAccount: RateLimiterAbstract;
  /** Allowed destination countries and the SMS pumping caps (per IP, per calling code, global). */
  smsCaps: SmsCaps;
  /** Called after a commit that queued mail or SMS. */
  mailQueued: () => void;
}

/**
 * PR6 step 1: the number typed for a country is checked and turned into E.164, then a code goes
 * to it by SMS. It counts (and can reset a password) only once confirmed. Returns the flow id.
 */
export async function startPhoneVerification(
  deps: PhoneVerificationDeps,
  account: AccountRow,
  input: { country: string; number: string },
  meta: RequestMeta,
): Promise<string> {
  const parsed = parsePhone(input.number, input.country, true);
  if ('problem' in parsed) throw new AppError(parsed.problem);
  deps.smsCaps.checkDestination(parsed.e164);
  await consumeOrRefuse(deps.smsPerAccount, limiterKey('sms', account.id));
  await deps.smsCaps.admit(meta.ip, parsed.e164);
  const flowId = await deps.db.transaction().execute(async (trx) => {
    const flow = await startFlow(trx, PhoneVerificationFlow, deps.config, {
      accountId: account.id,
      email: account.email,
      context: { phone: parsed.e164 },
      owner: { accountId: account.id },
    });
    const code = await issueCode(trx, deps.codes, flow.id, deps.config.codes);
    await enqueueSms(trx, deps.box, {
      to: parsed.e164,
      template: 'phone-verification',
      locale: account.locale,
      data: { code, minutes: codeMinutes(deps.config.codes) },
    });
    return flow.id;
  });
  deps.mailQueued();
  return flowId;
}

/**
 * PR6 step 2: the code from the SMS makes the number the account's verified mobile number. The
 * owner hears of it at the address: a number that can receive reset codes changed.
 */
export async function confirmPhoneNumber(
  deps: PhoneVerificationDeps,
  flow: PhoneVerificationRecord,
  account: AccountRow,
  code: string,
  meta: RequestMeta,
): Promise<void> {
  if (!code.trim()) throw new AppError('SMS_CODE_REQUIRED');
  const { result, attemptsLeft } = await checkCountedCode(
    deps,
    {
      flowId: flow.id,
      code,
      purpose: 'phone',
      channel: 'sms',
      subject: codeSubject(account.id, account.email),
      accountId: account.id,
    },
    meta,
  );
  if (result !== 'ok') throw codeError(result, attemptsLeft);
  const { phone } = flow.context;
  const replaced = account.phone_number_verified && account.phone_number !== null;
  await deps.db.transaction().execute(async (trx) => {
    await moveFlow(trx, PhoneVerificationFlow, flow, 'completed');
    await trx
      .updateTable('accounts')
      .set({ phone_number: phone, phone_number_verified: true, updated_at: new Date() })
      .where('id', '=', account.id)
      .execute();
    await recordAudit(trx, { type: 'phone.added', accountId: account.id, details: { replaced } }, meta);
    await enqueueAccountMail(trx, deps.box, account, 'security-notice', {
      notice: replaced ? 'phoneChanged' : 'phoneAdded',
      phone: formatPhone(phone, { masked: true }),
    });
  });
  deps.mailQueued();
}

/** PR6: the account's mobile number goes (audited, and the owner hears of it at the address). */
export async function removePhoneNumber(
  deps: Pick<PhoneVerificationDeps, 'db' | 'box' | 'mailQueued'>,
  account: AccountRow,
  meta: RequestMeta,
): Promise<void> {
  await deps.db.transaction().execute(async (trx) => {
    await trx
      .updateTable('accounts')
      .set({ phone_number: null, phone_number_verified: false, updated_at: new Date() })
      .where('id', '=', account.id)
      .execute();
    await recordAudit(trx, { type: 'phone.removed', accountId: account.id }, meta);
    if (account.phone_number)
      await enqueueAccountMail(trx, deps.box, account, 'security-notice', {
        notice: 'phoneRemoved',
        phone: formatPhone(account.phone_number, { masked: true }),
      });
  });
  deps.mailQueued();
}
