import { joinByDomain } from '../../identity/companies/service.js';
import { accountMovingTo } from '../../identity/companies/email-change.js';
import { claimInvitation, joinByInvitation, type OpenInvitation } from '../../identity/companies/invitations.js';
import { sql } from 'kysely';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../../config/schema.js';
import type { Db } from '../../db/database.js';
import type { AccountRow } from '../../db/schema.js';
import { enqueueAccountMail, enqueueMail } from '../../courier/outbox.js';
import { AppError, FormError, type ErrorCode } from '../../errors.js';
import type { RequestMeta } from '../../request-meta.js';
import type { Locale } from '../../text/i18n.js';
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
import { codeSubject, type CodeThrottle } from '../../security/rate-limit/code-throttle.js';
import { checkCountedCode, codeError, codeMinutes, issueCode } from '../kernel/codes.js';
import { loadFlow, moveFlow, startFlow, supersedeFlows, type FlowOf } from '../kernel/store.js';
import { RegistrationFlow, type RegistrationContext } from './state.js';

export type RegistrationFlowRecord = FlowOf<typeof RegistrationFlow>;

export interface RegistrationDeps {
  config: Readonly<Config>;
  db: Db;
  box: SecretBox;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  codes: CodeHasher;
  codeThrottle: CodeThrottle;
  freeMail: FreeMailDomains;
  /** Called after a commit that queued mail. */
  mailQueued: () => void;
  perIp: RateLimiterAbstract;
  resendPerAddress: RateLimiterAbstract;
  /** Invitation links looked up per IP (companies.invitationLookupsPerIp). */
  invitationPerIp: RateLimiterAbstract;
}

export interface SignUpInput {
  email: string;
  password: string;
  passwordConfirmation: string;
  givenName: string;
  familyName: string;
  country: string;
  partner: boolean;
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
 * "You already have an account" to the address: its account's, or the one of the account being
 * moved to it (the mail goes to the address typed, in that account's language).
 */
async function mailAlreadyRegistered(trx: Db, box: SecretBox, email: string): Promise<void> {
  const existing = await findAccountByEmail(trx, email);
  if (existing) return enqueueAccountMail(trx, box, existing, 'already-registered');
  const moving = await accountMovingTo(trx, email);
  if (moving) return enqueueAccountMail(trx, box, { ...moving, email }, 'already-registered');
}

/**
 * Starts (or starts again) a sign-up. A new address gets a pending account and an activation
 * code; a pending one is updated and gets a new code; an address that already has an account
 * gets a "you already have an account" mail instead, and the page looks the same (no
 * enumeration, C3). Account, flow and mail are committed together.
 */
export async function startSignUp(deps: RegistrationDeps, input: SignUpInput, meta: RequestMeta): Promise<string> {
  await consumeOrRefuse(deps.perIp, limiterKey('signup', meta.ip));
  await validateSignUp(deps, input);
  const email = normalizeEmail(input.email);
  await consumeOrRefuse(deps.resendPerAddress, limiterKey('signup-mail', email));

  // The same bcrypt work whether or not the address already has an account.
  const passwordHash = await deps.hasher.hash(input.password);
  const context: RegistrationContext = {
    ...(input.interaction ? { interaction: input.interaction } : {}),
    locale: meta.locale,
  };

  const flowId = await deps.db.transaction().execute(async (trx) => {
    // One sign-up per address at a time (a double submit): FOR UPDATE below locks nothing while
    // no account exists yet, and two inserts would collide on the unique address.
    await sql`select pg_advisory_xact_lock(hashtextextended(${`signup:${email}`}, 0))`.execute(trx);
    const existing = await trx
      .selectFrom('accounts')
      .selectAll()
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email))
      .forUpdate()
      .executeTakeFirst();

    // An address an account is being moved to (M3, M4) is spoken for as if it were registered.
    const moving = existing ? undefined : await accountMovingTo(trx, email);
    if ((existing && existing.status !== 'pending') || moving) {
      // Older unfinished sign-ups for this address stop working (startFlow supersedes them).
      const flow = await startFlow(trx, RegistrationFlow, deps.config, {
        accountId: null,
        email,
        context,
        owner: { email },
      });
      // A code is issued but never sent: whatever is typed on the page is simply wrong.
      await issueCode(trx, deps.codes, flow.id, deps.config.codes);
      await mailAlreadyRegistered(trx, deps.box, email);
      return flow.id;
    }

    const account = await upsertPendingAccount(trx, existing, { ...input, email, passwordHash, locale: meta.locale });
    const flow = await startFlow(trx, RegistrationFlow, deps.config, {
      accountId: account.id,
      email,
      context,
      owner: { email },
    });
    const code = await issueCode(trx, deps.codes, flow.id, deps.config.codes);
    await enqueueMail(trx, deps.box, {
      to: email,
      template: 'activation',
      locale: meta.locale,
      // The address is not verified yet: a stranger may have typed it, so the mail holds nothing
      // typed on the form (no name), only our own text and the code.
      data: { code, minutes: codeMinutes(deps.config.codes) },
    });
    return flow.id;
  });
  deps.mailQueued();
  return flowId;
}

async function upsertPendingAccount(
  trx: Db,
  existing: AccountRow | undefined,
  input: SignUpInput & { passwordHash: string; locale: Locale },
): Promise<AccountRow> {
  const fields = {
    password_hash: input.passwordHash,
    given_name: input.givenName.trim(),
    family_name: input.familyName.trim(),
    country: input.country,
    locale: input.locale,
    partner: input.partner,
    // Null until the first change: the minimum age counts from a change, not from the sign-up.
    password_changed_at: null,
    updated_at: new Date(),
  };
  if (existing) {
    return trx
      .updateTable('accounts')
      .set(fields)
      .where('id', '=', existing.id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }
  return trx
    .insertInto('accounts')
    .values({ ...fields, username: newAccountId(), email: input.email, status: 'pending', email_verified: false })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** What an invited sign-up's form asks: the address is the invitation's, and no company questions. */
export type InvitedSignUpInput = Omit<SignUpInput, 'email' | 'partner' | 'interaction'>;

/**
 * C4: the sign-up of an invited address. The same form and checks as any sign-up, but the
 * address is the invitation's and the link has proven it (no activation code): the account is
 * active at once and joins the company as a member. Claiming the invitation comes first in the
 * transaction, so of two parallel submits of one link exactly one creates an account.
 */
export async function signUpByInvitation(
  deps: RegistrationDeps,
  open: OpenInvitation,
  input: InvitedSignUpInput,
  meta: RequestMeta,
): Promise<{ accountId: string; email: string }> {
  await consumeOrRefuse(deps.perIp, limiterKey('signup', meta.ip));
  const email = open.invitation.email;
  await validateSignUp(deps, { ...input, email, partner: false });
  const passwordHash = await deps.hasher.hash(input.password);
  const accountId = await deps.db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtextextended(${`signup:${email}`}, 0))`.execute(trx);
    const invitation = await claimInvitation(trx, open.invitation.id);
    const existing = await trx
      .selectFrom('accounts')
      .selectAll()
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email))
      .forUpdate()
      .executeTakeFirst();
    // An account made since the link was opened: it accepts while logged in instead.
    if (existing && existing.status !== 'pending') throw new AppError('INVITATION_HAS_ACCOUNT');
    const account = await upsertPendingAccount(trx, existing, {
      ...input,
      email,
      partner: false,
      passwordHash,
      locale: meta.locale,
    });
    // A sign-up of the address started without the link ends here: its code would find no pending account.
    await supersedeFlows(trx, RegistrationFlow, { email });
    await trx
      .updateTable('accounts')
      .set({ status: 'active', email_verified: true, updated_at: new Date() })
      .where('id', '=', account.id)
      .execute();
    await recordAudit(
      trx,
      { type: 'account.activated', accountId: account.id, details: { invitation: invitation.id } },
      meta,
    );
    await joinByInvitation(trx, invitation, account.id, meta);
    return account.id;
  });
  return { accountId, email };
}

export interface VerifiedSignUp {
  accountId: string;
  email: string;
  context: RegistrationContext;
}

/**
 * C3: the right code activates the account (email verified) and completes the flow. Tries count
 * against the daily cap on wrong codes for the address; wrong ones are audited.
 */
export async function verifySignUp(
  deps: RegistrationDeps,
  flow: RegistrationFlowRecord,
  code: string,
  meta: RequestMeta,
): Promise<VerifiedSignUp> {
  if (!code.trim()) throw new AppError('CODE_REQUIRED');
  const { result, attemptsLeft } = await checkCountedCode(
    deps,
    {
      flowId: flow.id,
      code,
      purpose: 'activation',
      channel: 'email',
      subject: codeSubject(flow.accountId, flow.email),
      accountId: flow.accountId,
    },
    meta,
  );
  if (result !== 'ok' || !flow.accountId) {
    // A parallel submit (a double click) may have completed the flow, or a new sign-up superseded
    // it, since it was read: that clears the code, which is not "too many wrong codes".
    if (result === 'exhausted') await loadFlow(deps.db, RegistrationFlow, flow.id);
    throw codeError(result === 'ok' ? 'wrong' : result, attemptsLeft);
  }
  const accountId = flow.accountId;
  await deps.db.transaction().execute(async (trx) => {
    await moveFlow(trx, RegistrationFlow, flow, 'completed');
    await trx
      .updateTable('accounts')
      .set({ status: 'active', email_verified: true, updated_at: new Date() })
      .where('id', '=', accountId)
      .where('status', '=', 'pending')
      .execute();
    await recordAudit(trx, { type: 'account.activated', accountId });
    // A verified company domain that lets its people join on sign-up (issue 15).
    await joinByDomain(trx, accountId, flow.email);
  });
  return { accountId, email: flow.email, context: flow.context };
}

/** "Resend code": a new code replaces the old one; for a registered address, the same notice again. */
export async function resendSignUpCode(deps: RegistrationDeps, flow: RegistrationFlowRecord): Promise<void> {
  await consumeOrRefuse(deps.resendPerAddress, limiterKey('signup-mail', flow.email));
  await deps.db.transaction().execute(async (trx) => {
    const code = await issueCode(trx, deps.codes, flow.id, deps.config.codes);
    if (!flow.accountId) {
      await mailAlreadyRegistered(trx, deps.box, flow.email);
      return;
    }
    await enqueueMail(trx, deps.box, {
      to: flow.email,
      template: 'activation',
      locale: flow.context.locale,
      data: { code, minutes: codeMinutes(deps.config.codes) },
    });
  });
  deps.mailQueued();
}
