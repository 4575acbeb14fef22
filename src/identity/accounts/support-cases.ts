import { enqueueAccountMail } from '../../courier/outbox.js';
import type { Db } from '../../db/database.js';
import type { SupportCaseRow, SupportCaseStatus } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/unique-violation.js';
import { isUuid } from '../../db/uuid.js';
import { AppError, FormError, type ErrorCode } from '../../errors.js';
import type { RequestMeta } from '../../request-meta.js';
import { recordAudit } from '../../security/audit.js';
import type { SecretBox } from '../../security/secret-box.js';
import { codePointCount } from '../../text/code-points.js';
import type { AddressChanger } from './address-change.js';
import { emailProblem, normalizeEmail } from './email.js';
import type { FreeMailDomains } from './free-mail.js';
import { findAccountById } from './repository.js';

/**
 * M2: a partner cannot change their address in the console (M1) and has no company admin to do
 * it (M3), so they ask: a support case that an operator approves (the same verified change a
 * company admin starts: the new address proves itself with a code, the account waits on hold)
 * or rejects with a message mailed to them.
 */
export const REASON_MAX = 2000;

export interface SupportCaseView {
  id: string;
  account_id: string;
  kind: 'email_change';
  status: SupportCaseStatus;
  current_email: string;
  requested_email: string;
  reason: string;
  response: string | null;
  resolved_by: string | null;
  resolved_at: string | null;
  created_at: string;
}

export function supportCaseView(row: SupportCaseRow): SupportCaseView {
  return {
    id: row.id,
    account_id: row.account_id,
    kind: row.kind,
    status: row.status,
    current_email: row.current_email,
    requested_email: row.requested_email,
    reason: row.reason,
    response: row.response,
    resolved_by: row.resolved_by,
    resolved_at: row.resolved_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
  };
}

export interface SupportCaseDeps {
  db: Db;
  box: SecretBox;
  freeMail: FreeMailDomains;
}

/** Who resolves a case, for the audit log: an admin client's client_id or 'cli'. */
export interface CaseResolver {
  actor: string;
  meta?: RequestMeta | undefined;
}

/** The account's open case, if any (the profile page shows it instead of the form). */
export async function openCaseOf(db: Db, accountId: string): Promise<SupportCaseRow | undefined> {
  return db
    .selectFrom('support_cases')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('status', '=', 'open')
    .executeTakeFirst();
}

/**
 * Opens a partner's request for a new address. Whether the address belongs to another account
 * is not checked here: the answer would tell the user who is registered. The operator learns it
 * when approving.
 */
export async function openEmailCase(
  deps: SupportCaseDeps,
  accountId: string,
  input: { requestedEmail: string; reason: string },
  meta?: RequestMeta,
): Promise<SupportCaseRow> {
  const account = await findAccountById(deps.db, accountId);
  if (!account) throw new AppError('NOT_FOUND');
  if (!account.partner) throw new AppError('SUPPORT_CASE_NOT_PARTNER');
  const requested = normalizeEmail(input.requestedEmail);
  const reason = input.reason.trim();
  const problems: ErrorCode[] = [];
  const addressProblem = emailProblem(requested);
  if (addressProblem) problems.push(addressProblem);
  else if (requested === account.email) problems.push('SUPPORT_CASE_SAME_EMAIL');
  // C2: a partner's address is a business one, the new one too.
  else if (deps.freeMail.isFree(requested)) problems.push('EMAIL_FREE_MAIL_PARTNER');
  if (!reason) problems.push('SUPPORT_CASE_REASON_REQUIRED');
  else if (codePointCount(reason) > REASON_MAX) problems.push('FIELD_TOO_LONG');
  if (problems.length > 0) throw new FormError(problems);
  try {
    return await deps.db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('support_cases')
        .values({
          account_id: account.id,
          kind: 'email_change',
          current_email: account.email,
          requested_email: requested,
          reason,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await enqueueAccountMail(trx, deps.box, account, 'support-case-opened', {
        requested,
        caseId: row.id,
      });
      await recordAudit(
        trx,
        {
          type: 'support_case.opened',
          accountId: account.id,
          actor: account.id,
          details: { case: row.id, from: account.email, to: requested },
        },
        meta,
      );
      return row;
    });
  } catch (error) {
    if (isUniqueViolation(error, 'support_cases_open')) throw new AppError('SUPPORT_CASE_OPEN');
    throw error;
  }
}

export async function listSupportCases(
  db: Db,
  options: { status?: SupportCaseStatus | undefined; after?: string | undefined; limit: number },
): Promise<SupportCaseView[]> {
  let query = db.selectFrom('support_cases').selectAll();
  if (options.status) query = query.where('status', '=', options.status);
  if (options.after) {
    const after = parseCaseCursor(options.after);
    query = query.where((eb) =>
      eb.or([eb('created_at', '>', after.at), eb.and([eb('created_at', '=', after.at), eb('id', '>', after.id)])]),
    );
  }
  const rows = await query.orderBy('created_at').orderBy('id').limit(options.limit).execute();
  return rows.map(supportCaseView);
}

/** Oldest first: the queue an operator works through. */
export const caseCursor = (view: SupportCaseView): string =>
  Buffer.from(`${view.created_at}|${view.id}`).toString('base64url');

function parseCaseCursor(value: string): { at: Date; id: string } {
  const [at = '', id = ''] = Buffer.from(value, 'base64url').toString().split('|');
  const when = new Date(at);
  if (Number.isNaN(when.getTime()) || !isUuid(id)) throw new AppError('BAD_REQUEST');
  return { at: when, id };
}

export async function getSupportCase(db: Db, id: string): Promise<SupportCaseView> {
  if (!isUuid(id)) throw new AppError('NOT_FOUND');
  const row = await db.selectFrom('support_cases').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND');
  return supportCaseView(row);
}

/** Locks an open case for its resolution; NOT_FOUND or SUPPORT_CASE_NOT_OPEN otherwise. */
async function lockOpenCase(trx: Db, id: string): Promise<SupportCaseRow> {
  if (!isUuid(id)) throw new AppError('NOT_FOUND');
  const row = await trx.selectFrom('support_cases').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND');
  if (row.status !== 'open') throw new AppError('SUPPORT_CASE_NOT_OPEN');
  return row;
}

async function closeCase(
  trx: Db,
  row: SupportCaseRow,
  status: Exclude<SupportCaseStatus, 'open'>,
  by: CaseResolver,
  response: string | null,
): Promise<SupportCaseView> {
  const closed = await trx
    .updateTable('support_cases')
    .set({ status, response, resolved_by: by.actor, resolved_at: new Date() })
    .where('id', '=', row.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await recordAudit(
    trx,
    {
      type: status === 'approved' ? 'support_case.approved' : 'support_case.rejected',
      accountId: row.account_id,
      actor: by.actor,
      details: { case: row.id, from: row.current_email, to: row.requested_email },
    },
    by.meta,
  );
  return supportCaseView(closed);
}

/** Rejects an open case; the user gets the operator's message by mail, in their language. */
export async function rejectSupportCase(
  deps: Pick<SupportCaseDeps, 'db' | 'box'>,
  id: string,
  message: string,
  by: CaseResolver,
): Promise<SupportCaseView> {
  const response = message.trim();
  if (!response) throw new AppError('SUPPORT_CASE_MESSAGE_REQUIRED');
  return deps.db.transaction().execute(async (trx) => {
    const row = await lockOpenCase(trx, id);
    const account = await findAccountById(trx, row.account_id);
    if (account) {
      await enqueueAccountMail(trx, deps.box, account, 'support-case-rejected', {
        requested: row.requested_email,
        message: response,
      });
    }
    return closeCase(trx, row, 'rejected', by, response);
  });
}

/** Approves an open case: the change starts as if a company admin had asked for it (M3, M4). */
export async function approveSupportCase(
  db: Db,
  addresses: AddressChanger,
  id: string,
  by: CaseResolver,
): Promise<SupportCaseView> {
  const view = await db.transaction().execute(async (trx) => {
    const row = await lockOpenCase(trx, id);
    await addresses.start(trx, { accountId: row.account_id, newEmail: row.requested_email, ...by });
    return closeCase(trx, row, 'approved', by, null);
  });
  await addresses.settle(view.account_id);
  return view;
}
