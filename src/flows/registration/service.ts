import { sql } from 'kysely';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../../config/schema.js';
import type { Db } from '../../db/database.js';
import type { AccountRow } from '../../db/schema.js';
import { enqueueMail } from '../../courier/outbox.js';
import { AppError, FormError, type ErrorCode } from '../../http/errors.js';
import { isCountryCode } from '../../identity/accounts/countries.js';
import { namesProblems } from '../../identity/accounts/names.js';
import { emailProblem, normalizeEmail } from '../../identity/accounts/email.js';
import type { FreeMailDomains } from '../../identity/accounts/free-mail.js';
import { newAccountId } from '../../identity/accounts/account-id.js';
import { findAccountByEmail } from '../../identity/accounts/repository.js';
import type { PasswordHasher } from '../../identity/password/hashing.js';
import type { PasswordPolicy } from '../../identity/password/policy.js';
import { recordAudit } from '../../security/audit.js';
import type { CodeHasher } from '../../security/codes.js';
import { consumeOrRefuse, limiterKey } from '../../security/rate-limit/limiters.js';
import type { SecretBox } from '../../security/secret-box.js';
import { checkCode, codeError, codeMinutes, findFlow, insertFlow, issueCode, newFlowId, setFlowState, supersedeFlows } from '../flow.js';
import { RegistrationState, type RegistrationContext } from './state.js';

export interface RegistrationDeps {
  config: Readonly<Config>;
  db: Db;
  box: SecretBox;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  codes: CodeHasher;
  freeMail: FreeMailDomains;
  /** Called after a commit that queued mail. */
  mailQueued: () => void;
  perIp: RateLimiterAbstract;
  resendPerAddress: RateLimiterAbstract;
}

export interface SignUpInput {
  email: string;
  password: string;
  passwordConfirmation: string;
  givenName: string;
  familyName: string;
  country: string;
  partner: boolean;
  locale: 'ja' | 'en';
  interaction?: string | undefined;
}

/** C1-C3: validates a sign-up form, every problem at once. */
export async function validateSignUp(deps: RegistrationDeps, input: SignUpInput): Promise<void> {
  const problems: ErrorCode[] = [];
  const emailIssue = emailProblem(input.email);
  if (emailIssue) problems.push(emailIssue);
  else if (input.partner && deps.freeMail.isFree(normalizeEmail(input.email))) problems.push('EMAIL_FREE_MAIL_PARTNER');
  problems.push(...namesProblems(input.givenName, input.familyName));
  if (!isCountryCode(input.country)) problems.push('COUNTRY_REQUIRED');
  const passwordProblems = await deps.policy.problems(input.password, {
    email: emailIssue ? '' : normalizeEmail(input.email),
    confirmation: input.passwordConfirmation,
  });
  problems.push(...passwordProblems);
  if (problems.length > 0) throw new FormError(problems);
}

/**
 * Starts (or starts again) a sign-up. A new address gets a pending account and an activation
 * code; a pending one is updated and gets a new code; an address that already has an account
 * gets a "you already have an account" mail instead, and the page looks the same (no
 * enumeration, C3). Account, flow and mail are committed together.
 */
export async function startSignUp(deps: RegistrationDeps, input: SignUpInput, ip: string): Promise<string> {
  await consumeOrRefuse(deps.perIp, limiterKey('signup', ip));
  await validateSignUp(deps, input);
  const email = normalizeEmail(input.email);
  await consumeOrRefuse(deps.resendPerAddress, limiterKey('signup-mail', email));

  // The same bcrypt work whether or not the address already has an account.
  const passwordHash = await deps.hasher.hash(input.password);
  const flowId = newFlowId();
  const context: RegistrationContext = {
    ...(input.interaction ? { interaction: input.interaction } : {}),
    locale: input.locale,
    givenName: input.givenName.trim(),
  };

  await deps.db.transaction().execute(async (trx) => {
    // One sign-up per address at a time (a double submit): FOR UPDATE below locks nothing while
    // no account exists yet, and two inserts would collide on the unique address.
    await sql`select pg_advisory_xact_lock(hashtextextended(${`signup:${email}`}, 0))`.execute(trx);
    const existing = await trx.selectFrom('accounts').selectAll()
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email))
      .forUpdate().executeTakeFirst();
    // Older unfinished sign-ups for this address stop working.
    await supersedeFlows(trx, 'registration', { email });

    if (existing && existing.status !== 'pending') {
      await insertFlow(trx, { id: flowId, kind: 'registration', state: RegistrationState.awaitingCode, accountId: null, email, context: { ...context }, ttlSeconds: deps.config.registration.flowTtlSeconds });
      // A code is issued but never sent: whatever is typed on the page is simply wrong.
      await issueCode(trx, deps.codes, flowId, deps.config.codes);
      await enqueueMail(trx, deps.box, { to: email, template: 'already-registered', locale: existing.locale, data: { name: existing.given_name } });
      return;
    }

    const account = await upsertPendingAccount(trx, existing, { ...input, email, passwordHash });
    await insertFlow(trx, { id: flowId, kind: 'registration', state: RegistrationState.awaitingCode, accountId: account.id, email, context: { ...context }, ttlSeconds: deps.config.registration.flowTtlSeconds });
    const code = await issueCode(trx, deps.codes, flowId, deps.config.codes);
    await enqueueMail(trx, deps.box, {
      to: email, template: 'activation', locale: input.locale,
      data: { name: input.givenName.trim(), code, minutes: codeMinutes(deps.config.codes) },
    });
  });
  deps.mailQueued();
  return flowId;
}

async function upsertPendingAccount(trx: Db, existing: AccountRow | undefined, input: SignUpInput & { passwordHash: string }): Promise<AccountRow> {
  const fields = {
    password_hash: input.passwordHash,
    given_name: input.givenName.trim(),
    family_name: input.familyName.trim(),
    country: input.country,
    locale: input.locale,
    partner: input.partner,
    password_changed_at: new Date(),
    updated_at: new Date(),
  };
  if (existing) {
    return trx.updateTable('accounts').set(fields).where('id', '=', existing.id).returningAll().executeTakeFirstOrThrow();
  }
  return trx.insertInto('accounts')
    .values({ ...fields, username: newAccountId(), email: input.email, status: 'pending', email_verified: false })
    .returningAll().executeTakeFirstOrThrow();
}

export interface VerifiedSignUp {
  accountId: string;
  email: string;
  context: RegistrationContext;
}

/** C3: the right code activates the account (email verified) and completes the flow. */
export async function verifySignUp(deps: RegistrationDeps, flowId: string, code: string): Promise<VerifiedSignUp> {
  const flow = await findFlow(deps.db, flowId, 'registration');
  if (!flow || flow.state !== RegistrationState.awaitingCode) throw new AppError('FLOW_EXPIRED', 410);
  if (!code.trim()) throw new AppError('CODE_REQUIRED');
  const { result, attemptsLeft } = await checkCode(deps.db, deps.codes, flowId, code, deps.config.codes);
  if (result !== 'ok' || !flow.account_id) {
    // A parallel submit (a double click) may have completed the flow, or a new sign-up superseded
    // it, since it was read: that clears the code, which is not "too many wrong codes".
    if (result === 'exhausted') {
      const latest = await findFlow(deps.db, flowId, 'registration');
      if (!latest || latest.state !== RegistrationState.awaitingCode) throw new AppError('FLOW_EXPIRED', 410);
    }
    const reason = result === 'ok' ? 'wrong' : result;
    throw codeError(reason, attemptsLeft);
  }
  const accountId = flow.account_id;
  await deps.db.transaction().execute(async (trx) => {
    if (!(await setFlowState(trx, flowId, RegistrationState.awaitingCode, RegistrationState.completed))) {
      throw new AppError('FLOW_EXPIRED', 410);
    }
    await trx.updateTable('accounts').set({ status: 'active', email_verified: true, updated_at: new Date() })
      .where('id', '=', accountId).where('status', '=', 'pending').execute();
    await recordAudit(trx, { type: 'account.activated', accountId });
  });
  return { accountId, email: flow.email!, context: flow.context as unknown as RegistrationContext };
}

/** "Resend code": a new code replaces the old one; for a registered address, the same notice again. */
export async function resendSignUpCode(deps: RegistrationDeps, flowId: string): Promise<void> {
  const flow = await findFlow(deps.db, flowId, 'registration');
  if (!flow || flow.state !== RegistrationState.awaitingCode || !flow.email) throw new AppError('FLOW_EXPIRED', 410);
  await consumeOrRefuse(deps.resendPerAddress, limiterKey('signup-mail', flow.email));
  const context = flow.context as unknown as RegistrationContext;
  await deps.db.transaction().execute(async (trx) => {
    const code = await issueCode(trx, deps.codes, flowId, deps.config.codes);
    if (!flow.account_id) {
      const existing = await findAccountByEmail(trx, flow.email!);
      if (existing) await enqueueMail(trx, deps.box, { to: flow.email!, template: 'already-registered', locale: existing.locale, data: { name: existing.given_name } });
      return;
    }
    await enqueueMail(trx, deps.box, {
      to: flow.email!, template: 'activation', locale: context.locale,
      data: { name: context.givenName, code, minutes: codeMinutes(deps.config.codes) },
    });
  });
  deps.mailQueued();
}
