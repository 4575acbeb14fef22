import { sql } from 'kysely';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { enqueueMail } from '../../courier/outbox.js';
import type { Db } from '../../db/database.js';
import { isUniqueViolation } from '../../db/unique-violation.js';
import { isUuid } from '../../db/uuid.js';
import type { AccountRow, CompanyRow, EmailChangeRow } from '../../db/schema.js';
import { AppError, FormError } from '../../errors.js';
import type { RequestMeta } from '../../request-meta.js';
import { recordAudit } from '../../security/audit.js';
import type { CodeHasher } from '../../security/codes.js';
import { codeSubject, type CodeThrottle } from '../../security/rate-limit/code-throttle.js';
import { consumeOrRefuse, limiterKey } from '../../security/rate-limit/limiters.js';
import type { SecretBox } from '../../security/secret-box.js';
import { maskEmail, personName } from '../../text/format.js';
import { endAccountAccess, type SessionRevoker } from '../accounts/access.js';
import { emailProblem, normalizeEmail } from '../accounts/email.js';
import { findAccountByEmail, findAccountById } from '../accounts/repository.js';
import type { AddressChanger } from '../accounts/address-change.js';
import { applyAccountStatus } from '../accounts/status.js';
import { domainOfEmail } from './domains.js';
import { leaveCompaniesOutside } from './leave.js';
import { findMember } from './members.js';
import { domainsOf, findCompany } from './repository.js';
import type { CompanyActor } from './service.js';

/**
 * A company admin changes a member's address (M3) and the account is on hold until the new
 * address is proven (M4, L5): a code goes to the new address, a notice to the old one. The member
 * logs in with the old address and password and enters the code (src/interactions/email-change.ts);
 * then the address changes, the hold ends, and the account leaves companies whose domains the new
 * address is outside of (leave.ts).
 */
export interface EmailChangeDeps {
  db: Db;
  box: SecretBox;
  codes: CodeHasher;
  /** The daily cap on wrong codes per account, shared with every other code (X2). */
  codeThrottle: CodeThrottle;
  revoker: SessionRevoker;
  /** Codes mailed per account (the start and every resend), counted before anything is sent. */
  sendLimiter: RateLimiterAbstract;
  config: {
    codes: { digits: number; maxAttempts: number };
    companies: { emailChangeHours: number };
  };
}

/** What the member list, the admin API and the login's code step show of a pending change. */
export interface PendingEmailChange {
  account_id: string;
  /** Null for an operator's approval of a partner's support case (M2). */
  company_id: string | null;
  new_email: string;
  /** The new address as the login's code step shows it (the person there has only proven a password). */
  masked_email: string;
  requested_by: string;
  code_expires_at: string;
  sent_at: string;
  created_at: string;
}

export function pendingView(row: EmailChangeRow): PendingEmailChange {
  return {
    account_id: row.account_id,
    company_id: row.company_id,
    new_email: row.new_email,
    masked_email: maskEmail(row.new_email),
    requested_by: row.requested_by,
    code_expires_at: row.code_expires_at.toISOString(),
    sent_at: row.sent_at.toISOString(),
    created_at: row.created_at.toISOString(),
  };
}

/** The account's pending change, if any. */
export async function pendingEmailChange(db: Db, accountId: string): Promise<EmailChangeRow | undefined> {
  if (!isUuid(accountId)) return undefined;
  return db.selectFrom('email_changes').selectAll().where('account_id', '=', accountId).executeTakeFirst();
}

/** The account whose pending change moves it to `email` (normalised), if any: the address is spoken for. */
export async function accountMovingTo(db: Db, email: string): Promise<AccountRow | undefined> {
  return db
    .selectFrom('email_changes as c')
    .innerJoin('accounts as a', 'a.id', 'c.account_id')
    .selectAll('a')
    .where((eb) => eb(eb.fn('lower', ['c.new_email']), '=', email))
    .executeTakeFirst();
}

/** The pending changes of some members of a company (its member list). */
export async function pendingEmailChanges(db: Db, accountIds: string[]): Promise<Map<string, EmailChangeRow>> {
  const ids = accountIds.filter(isUuid);
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('email_changes').selectAll().where('account_id', 'in', ids).execute();
  return new Map(rows.map((row) => [row.account_id, row]));
}

/** Drops the company's pending change of the account (its admin released the hold by hand). */
export async function cancelEmailChange(db: Db, accountId: string, companyId: string): Promise<boolean> {
  if (!isUuid(accountId) || !isUuid(companyId)) return false;
  const gone = await db
    .deleteFrom('email_changes')
    .where('account_id', '=', accountId)
    .where('company_id', '=', companyId)
    .executeTakeFirst();
  return gone.numDeletedRows > 0n;
}

/** The code's HMAC is bound to the account and the new address: a code for another change never fits. */
const codeBinding = (accountId: string, newEmail: string) => `email-change\u0000${accountId}\u0000${newEmail}`;

function newCode(deps: EmailChangeDeps, accountId: string, newEmail: string) {
  const code = deps.codes.generate(deps.config.codes.digits);
  return {
    code,
    code_hmac: deps.codes.hash(code, codeBinding(accountId, newEmail)),
    code_expires_at: new Date(Date.now() + deps.config.companies.emailChangeHours * 3_600_000),
  };
}

/** The company's name in the member's language; none for an operator's change (a partner's case, M2). */
const companyName = (company: CompanyRow | undefined, locale: 'ja' | 'en') =>
  company && (locale === 'ja' ? company.name_ja : company.name_latin);

/** The code, to the new address, in the member's language. */
async function mailCode(
  trx: Db,
  deps: EmailChangeDeps,
  account: AccountRow,
  company: CompanyRow | undefined,
  newEmail: string,
  code: string,
): Promise<void> {
  await enqueueMail(trx, deps.box, {
    to: newEmail,
    template: 'email-change-code',
    locale: account.locale,
    data: {
      name: personName(account, account.locale),
      code,
      hours: deps.config.companies.emailChangeHours,
      company: companyName(company, account.locale),
      oldEmail: account.email,
    },
  });
}

/** Counts one mail of a code for the account, or TOO_MANY_ATTEMPTS: nothing is sent. */
const admitSend = (deps: EmailChangeDeps, accountId: string) =>
  consumeOrRefuse(deps.sendLimiter, limiterKey('email-change', accountId));

/**
 * What every change checks before it starts, on `db` (the caller's transaction, if any): a valid
 * new address that is not the current one and nobody else's (whoever starts a change may be told
 * so: an admin could invite it anyway, an operator sees every account), and an account that may be
 * held for it: active, or already held for a change (its new address corrected); a hold for
 * another reason, a disabled or an unactivated account is not for this to release.
 */
async function checkChange(
  db: Db,
  account: Pick<AccountRow, 'id' | 'email' | 'status'>,
  input: string,
): Promise<string> {
  const problem = emailProblem(input);
  if (problem) throw new FormError([problem]);
  const newEmail = normalizeEmail(input);
  if (newEmail === normalizeEmail(account.email)) throw new FormError(['EMAIL_CHANGE_SAME']);
  const other = await findAccountByEmail(db, newEmail);
  if (other && other.id !== account.id) throw new AppError('EMAIL_TAKEN');
  const pending = await pendingEmailChange(db, account.id);
  if (account.status !== 'active' && !(account.status === 'on_hold' && pending)) {
    throw new AppError('STATUS_CONFLICT');
  }
  return newEmail;
}

/**
 * The change itself, in `trx`: the account on hold (sessions and tokens end), the pending change
 * (replacing one already pending), the code to the new address and a notice to the old one,
 * audited with `by` as actor. The caller calls `deps.revoker.cleanUp` after the commit.
 */
async function beginEmailChange(
  trx: Db,
  deps: EmailChangeDeps,
  change: { accountId: string; newEmail: string; company: CompanyRow | undefined },
  by: CompanyActor,
): Promise<EmailChangeRow> {
  const { accountId, newEmail, company } = change;
  await applyAccountStatus(
    trx,
    accountId,
    { status: 'on_hold', by: by.actor, companyId: company?.id, reason: 'email_change' },
    by.meta,
  );
  const account = await findAccountById(trx, accountId);
  if (!account) throw new AppError('ACCOUNT_NOT_FOUND');
  const { code, ...stored } = newCode(deps, accountId, newEmail);
  const values = {
    company_id: company?.id ?? null,
    old_email: account.email,
    new_email: newEmail,
    requested_by: by.actor,
    code_attempts: 0,
    ...stored,
  };
  let saved: EmailChangeRow;
  try {
    saved = await trx
      .insertInto('email_changes')
      .values({ account_id: accountId, ...values })
      .onConflict((oc) => oc.column('account_id').doUpdateSet({ ...values, sent_at: sql<Date>`now()` }))
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (err) {
    // Another account waits for the same new address (the transaction is void: callers roll back).
    if (isUniqueViolation(err, 'email_changes_new_email')) throw new AppError('EMAIL_TAKEN');
    throw err;
  }
  await mailCode(trx, deps, account, company, newEmail, code);
  await enqueueMail(trx, deps.box, {
    to: account.email,
    template: 'email-change-notice',
    locale: account.locale,
    data: {
      name: personName(account, account.locale),
      newEmail,
      company: companyName(company, account.locale),
    },
  });
  await recordAudit(
    trx,
    {
      type: 'account.email_change_started',
      accountId,
      companyId: company?.id,
      actor: by.actor,
      details: { from: account.email, to: newEmail },
    },
    by.meta,
  );
  return saved;
}

/**
 * M3: a company admin (or an operator for the company) starts the change of a member's address.
 * Both addresses must be in domains the company has verified: the company vouches for the old
 * one being its employee's and for the new one being its own. The account goes on hold at once,
 * the code goes to the new address and a notice to the old one, all in one transaction. A change
 * already pending is replaced (a mistyped address is corrected by starting again).
 */
export async function startEmailChange(
  deps: EmailChangeDeps,
  companyId: string,
  accountId: string,
  input: string,
  by: CompanyActor,
): Promise<PendingEmailChange> {
  const company = await findCompany(deps.db, companyId);
  if (!company) throw new AppError('NOT_FOUND');
  const newEmail = await companyChangeTarget(deps.db, company, accountId, input);
  // Counted outside the transaction: the embedded database has one connection, which it holds.
  await admitSend(deps, accountId);
  const row = await deps.db
    .transaction()
    .execute((trx) => beginEmailChange(trx, deps, { accountId, newEmail, company }, by));
  await deps.revoker.cleanUp(accountId);
  return pendingView(row);
}

/**
 * The member's new address, normalised, once the company's checks pass: both addresses in its
 * verified domains (it vouches for the old one being its employee's and for the new one being
 * its own), and checkChange's.
 */
async function companyChangeTarget(db: Db, company: CompanyRow, accountId: string, input: string): Promise<string> {
  const member = await findMember(db, company.id, accountId);
  if (!member) throw new AppError('ACCOUNT_NOT_FOUND');
  const newEmail = await checkChange(db, { id: member.account_id, email: member.email, status: member.status }, input);
  const verified = new Set(
    (await domainsOf(db, company.id)).filter((d) => d.verified_at !== null).map((d) => d.domain),
  );
  if (!verified.has(domainOfEmail(normalizeEmail(member.email)))) throw new AppError('EMAIL_CHANGE_MEMBER_OUTSIDE');
  if (!verified.has(domainOfEmail(newEmail))) throw new FormError(['EMAIL_CHANGE_DOMAIN_NOT_VERIFIED']);
  return newEmail;
}

/**
 * The same change, started inside another piece of work's transaction: a company's bulk rename
 * (for the company, with its checks) and an operator's approval of a partner's case (no company:
 * the operator vouches for the new address).
 */
export function addressChanger(deps: EmailChangeDeps): AddressChanger {
  // No per-account send cap here: a rename item or an approval mails each account once, and the
  // cap's counter lives outside the caller's transaction (on the embedded database, one
  // connection that the transaction holds).
  return {
    async start(trx, change) {
      const by = { actor: change.actor, meta: change.meta };
      const company = change.companyId ? await findCompany(trx, change.companyId) : undefined;
      if (change.companyId && !company) throw new AppError('NOT_FOUND');
      let newEmail: string;
      if (company) newEmail = await companyChangeTarget(trx, company, change.accountId, change.newEmail);
      else {
        const account = await findAccountById(trx, change.accountId);
        if (!account) throw new AppError('ACCOUNT_NOT_FOUND');
        newEmail = await checkChange(trx, account, change.newEmail);
      }
      await beginEmailChange(trx, deps, { accountId: change.accountId, newEmail, company }, by);
    },
    settle: (accountId) => deps.revoker.cleanUp(accountId),
  };
}

/**
 * A new code for the pending change (the old one stops working, its tries start again), mailed to
 * the new address. Asked for by the company's admin or an operator (`companyId` given: the change
 * must be that company's) or by the member at the login's code step, after the right password.
 * Counted against the account's mails before anything is sent.
 */
export async function resendEmailChange(
  deps: EmailChangeDeps,
  accountId: string,
  by: CompanyActor & { companyId?: string | undefined },
): Promise<PendingEmailChange> {
  const before = await pendingEmailChange(deps.db, accountId);
  if (!before || (by.companyId !== undefined && before.company_id !== by.companyId)) {
    throw new AppError('EMAIL_CHANGE_NOT_PENDING');
  }
  const [company, account] = await Promise.all([
    before.company_id ? findCompany(deps.db, before.company_id) : undefined,
    findAccountById(deps.db, accountId),
  ]);
  if ((before.company_id && !company) || !account) throw new AppError('EMAIL_CHANGE_NOT_PENDING');
  await admitSend(deps, accountId);
  const row = await deps.db.transaction().execute(async (trx) => {
    const { code, ...stored } = newCode(deps, accountId, before.new_email);
    const updated = await trx
      .updateTable('email_changes')
      .set({ ...stored, code_attempts: 0, sent_at: sql<Date>`now()` })
      .where('account_id', '=', accountId)
      .where('new_email', '=', before.new_email)
      .returningAll()
      .executeTakeFirst();
    if (!updated) throw new AppError('EMAIL_CHANGE_NOT_PENDING');
    await mailCode(trx, deps, account, company, updated.new_email, code);
    await recordAudit(
      trx,
      {
        type: 'account.email_change_resent',
        accountId,
        companyId: company?.id,
        actor: by.actor,
        details: { to: updated.new_email },
      },
      by.meta,
    );
    return updated;
  });
  return pendingView(row);
}

/** Why a code did not work, as the login's code step tells it. */
const CODE_ERRORS = { wrong: 'CODE_WRONG', expired: 'CODE_EXPIRED', exhausted: 'CODE_EXHAUSTED' } as const;

/**
 * The member's code from the new address. Every try is counted first, atomically, against the
 * account's daily cap on wrong codes (CodeThrottle) and against the code's own tries (one
 * conditional UPDATE), so parallel guesses get no further than either allows; then the code is
 * compared in constant time. A right code is used up in the transaction that changes the address,
 * releases the hold, ends every session and token (again: whatever began since the hold), leaves
 * the companies whose domains the new address is outside of, and records old and new address.
 * Returns the account as it is now.
 */
export async function confirmEmailChange(
  deps: EmailChangeDeps,
  accountId: string,
  input: { code: string; device?: string | undefined },
  meta?: RequestMeta,
): Promise<AccountRow> {
  if (!input.code.trim()) throw new AppError('CODE_REQUIRED');
  const details = { purpose: 'email_change', channel: 'email' };
  let counted;
  try {
    counted = await deps.codeThrottle.begin(codeSubject(accountId, ''), { device: input.device });
  } catch (err) {
    await recordAudit(deps.db, { type: 'code.throttled', accountId, details }, meta);
    throw err;
  }
  const max = deps.config.codes.maxAttempts;
  const row = await deps.db
    .updateTable('email_changes')
    .set({ code_attempts: sql`code_attempts + 1` })
    .where('account_id', '=', accountId)
    .where('code_attempts', '<', max)
    .returningAll()
    .executeTakeFirst();
  if (!row && !(await pendingEmailChange(deps.db, accountId))) throw new AppError('EMAIL_CHANGE_NOT_PENDING');
  let result: keyof typeof CODE_ERRORS | 'ok';
  if (!row) result = 'exhausted';
  else if (row.code_expires_at.getTime() <= Date.now()) result = 'expired';
  else if (deps.codes.matches(input.code, codeBinding(accountId, row.new_email), row.code_hmac)) result = 'ok';
  else result = row.code_attempts >= max ? 'exhausted' : 'wrong';
  if (result !== 'ok' || !row) {
    await recordAudit(deps.db, { type: 'code.failed', accountId, details: { ...details, result } }, meta);
    throw new AppError(CODE_ERRORS[result === 'ok' ? 'wrong' : result], {
      attempts: row ? Math.max(0, max - row.code_attempts) : 0,
    });
  }
  await deps.codeThrottle.succeeded(counted);
  const account = await applyEmailChange(deps, row, meta);
  await deps.revoker.cleanUp(accountId);
  return account;
}

async function applyEmailChange(deps: EmailChangeDeps, row: EmailChangeRow, meta?: RequestMeta): Promise<AccountRow> {
  const accountId = row.account_id;
  try {
    return await deps.db.transaction().execute(async (trx) => {
      // Single use: of two right codes at once, one deletes the row; the other finds nothing.
      const used = await trx
        .deleteFrom('email_changes')
        .where('account_id', '=', accountId)
        .where('code_hmac', '=', row.code_hmac)
        .returning('account_id')
        .executeTakeFirst();
      if (!used) throw new AppError('CODE_EXPIRED', { attempts: 0 });
      const before = await findAccountById(trx, accountId);
      if (!before) throw new AppError('ACCOUNT_NOT_FOUND');
      await trx
        .updateTable('accounts')
        .set({ email: row.new_email, email_verified: true, updated_at: new Date() })
        .where('id', '=', accountId)
        .execute();
      await applyAccountStatus(
        trx,
        accountId,
        { status: 'active', by: accountId, companyId: row.company_id ?? undefined, reason: 'email_change' },
        meta,
      );
      await endAccountAccess(trx, accountId);
      const by = { actor: accountId, meta };
      const left = await leaveCompaniesOutside(trx, accountId, row.new_email, by);
      await recordAudit(
        trx,
        {
          type: 'account.email_changed',
          accountId,
          companyId: row.company_id,
          actor: accountId,
          details: { from: before.email, to: row.new_email, requested_by: row.requested_by, left },
        },
        meta,
      );
      const after = await findAccountById(trx, accountId);
      if (!after) throw new AppError('ACCOUNT_NOT_FOUND');
      return after;
    });
  } catch (err) {
    // The new address was taken since the change began (an account signed up with it).
    if (isUniqueViolation(err, 'accounts_email_key')) throw new AppError('EMAIL_TAKEN');
    throw err;
  }
}
