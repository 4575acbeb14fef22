import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { enqueueMails } from '../../courier/outbox.js';
import type { Db } from '../../db/database.js';
import type { AccountRow, CompanyInvitationRow, CompanyRow } from '../../db/schema.js';
import { AppError, FormError } from '../../errors.js';
import type { RequestMeta } from '../../request-meta.js';
import { auditRow, recordAudit } from '../../security/audit.js';
import { consumeOrRefuse, limiterKey } from '../../security/rate-limit/limiters.js';
import type { SecretBox } from '../../security/secret-box.js';
import { emailProblem, normalizeEmail } from '../accounts/email.js';
import { isUuid } from '../../db/uuid.js';
import { findCompany, roleIn } from './repository.js';
import { putMember, type CompanyActor } from './service.js';

/** C4: at most this many addresses in one invitation (a pasted list). */
export const INVITATIONS_AT_ONCE = 500;

export type InvitationStatus = 'pending' | 'expired' | 'accepted' | 'revoked';

export interface InvitationView {
  id: string;
  email: string;
  status: InvitationStatus;
  expires_at: string;
  sent_at: string;
  accepted_at: string | null;
  revoked_at: string | null;
  created_at: string;
}

export interface InvitationDeps {
  db: Db;
  box: SecretBox;
  /** How long a link works, in days (companies.invitationDays). */
  days: number;
}

export function invitationStatus(row: CompanyInvitationRow, now = Date.now()): InvitationStatus {
  if (row.accepted_at) return 'accepted';
  if (row.revoked_at) return 'revoked';
  return row.expires_at.getTime() <= now ? 'expired' : 'pending';
}

export function invitationView(row: CompanyInvitationRow): InvitationView {
  return {
    id: row.id,
    email: row.email,
    status: invitationStatus(row),
    expires_at: row.expires_at.toISOString(),
    sent_at: row.sent_at.toISOString(),
    accepted_at: row.accepted_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
  };
}

const tokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');

/** 128 random bits for the link; only their SHA-256 is stored. */
function newToken(): { token: string; hash: string } {
  const token = randomBytes(16).toString('base64url');
  return { token, hash: tokenHash(token) };
}

/** The addresses of a pasted list: separated by commas, semicolons, spaces or lines. */
export function addressesOf(text: string): string[] {
  return text.split(/[\s,;]+/).filter(Boolean);
}

function companyName(company: CompanyRow, locale: 'ja' | 'en'): string {
  return locale === 'ja' ? company.name_ja : company.name_latin;
}

function invitationMail(company: CompanyRow, row: CompanyInvitationRow, token: string, days: number) {
  return {
    to: row.email,
    template: 'invitation',
    locale: row.locale,
    data: { token, company: companyName(company, row.locale), days },
  };
}

export interface InviteResult {
  invitations: InvitationView[];
  /** Addresses that already belong to members: nobody is invited twice. */
  alreadyMembers: string[];
}

/**
 * Invites up to 500 addresses at once: each gets an invitation (an open one for the address is
 * renewed: new link, new expiry) and a mail, all in one transaction, audited per address.
 */
export async function inviteToCompany(
  deps: InvitationDeps,
  companyId: string,
  input: string[],
  by: CompanyActor & { locale: 'ja' | 'en' },
): Promise<InviteResult> {
  const company = await findCompany(deps.db, companyId);
  if (!company) throw new AppError('NOT_FOUND');
  const emails = [...new Set(input.map(normalizeEmail).filter(Boolean))];
  if (emails.length === 0) throw new FormError(['INVITATIONS_EMPTY']);
  if (emails.length > INVITATIONS_AT_ONCE) {
    throw new FormError(['INVITATIONS_TOO_MANY'], { max: INVITATIONS_AT_ONCE, count: emails.length });
  }
  const invalid = emails.filter((email) => emailProblem(email));
  if (invalid.length > 0) throw new FormError(['INVITATION_EMAIL_INVALID'], { emails: invalid.slice(0, 5).join(', ') });

  const result = await deps.db.transaction().execute(async (trx) => {
    const members = await trx
      .selectFrom('company_memberships as m')
      .innerJoin('accounts as a', 'a.id', 'm.account_id')
      .select(sql<string>`lower(a.email)`.as('email'))
      .where('m.company_id', '=', company.id)
      .where(sql<string>`lower(a.email)`, 'in', emails)
      .execute();
    const alreadyMembers = new Set(members.map((m) => m.email));
    const invited = emails.filter((email) => !alreadyMembers.has(email));
    if (invited.length === 0) return { rows: [], alreadyMembers };
    const expiresAt = new Date(Date.now() + deps.days * 86_400_000);
    const issued = invited.map((email) => ({ email, ...newToken() }));
    const tokenOf = new Map(issued.map((i) => [i.email, i.token]));
    const rows = await trx
      .insertInto('company_invitations')
      .values(
        issued.map(({ email, hash }) => ({
          company_id: company.id,
          email,
          token_hash: hash,
          locale: by.locale,
          invited_by: by.actor,
          expires_at: expiresAt,
        })),
      )
      .onConflict((oc) =>
        oc
          .columns(['company_id', 'email'])
          .where('accepted_at', 'is', null)
          .where('revoked_at', 'is', null)
          .doUpdateSet((eb) => ({
            token_hash: eb.ref('excluded.token_hash'),
            locale: eb.ref('excluded.locale'),
            invited_by: eb.ref('excluded.invited_by'),
            expires_at: eb.ref('excluded.expires_at'),
            sent_at: sql<Date>`now()`,
          })),
      )
      .returningAll()
      .execute();
    await enqueueMails(
      trx,
      deps.box,
      rows.map((row) => invitationMail(company, row, tokenOf.get(row.email) ?? '', deps.days)),
    );
    await trx
      .insertInto('audit_events')
      .values(
        rows.map((row) =>
          auditRow(
            {
              type: 'company.invited',
              companyId: company.id,
              actor: by.actor,
              details: { invitation: row.id, email: row.email },
            },
            by.meta,
          ),
        ),
      )
      .execute();
    return { rows, alreadyMembers };
  });
  return {
    invitations: result.rows.map(invitationView),
    alreadyMembers: [...result.alreadyMembers],
  };
}

async function invitationOf(db: Db, companyId: string, id: string): Promise<CompanyInvitationRow> {
  const row =
    isUuid(companyId) && isUuid(id)
      ? await db
          .selectFrom('company_invitations')
          .selectAll()
          .where('company_id', '=', companyId)
          .where('id', '=', id)
          .executeTakeFirst()
      : undefined;
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

/** A new link (the old one stops working) and a new expiry, mailed again. Only open invitations. */
export async function resendInvitation(
  deps: InvitationDeps,
  companyId: string,
  id: string,
  by: CompanyActor,
): Promise<InvitationView> {
  const company = await findCompany(deps.db, companyId);
  const before = await invitationOf(deps.db, companyId, id);
  if (!company) throw new AppError('NOT_FOUND');
  const { token, hash } = newToken();
  return deps.db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('company_invitations')
      .set({
        token_hash: hash,
        expires_at: new Date(Date.now() + deps.days * 86_400_000),
        sent_at: sql<Date>`now()`,
      })
      .where('id', '=', before.id)
      .where('accepted_at', 'is', null)
      .where('revoked_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new AppError('INVITATION_NOT_OPEN');
    await enqueueMails(trx, deps.box, [invitationMail(company, row, token, deps.days)]);
    await recordAudit(
      trx,
      {
        type: 'company.invitation_resent',
        companyId,
        actor: by.actor,
        details: { invitation: row.id, email: row.email },
      },
      by.meta,
    );
    return invitationView(row);
  });
}

/** The link stops working at once. */
export async function revokeInvitation(db: Db, companyId: string, id: string, by: CompanyActor): Promise<void> {
  const before = await invitationOf(db, companyId, id);
  await db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('company_invitations')
      .set({ revoked_at: sql<Date>`now()` })
      .where('id', '=', before.id)
      .where('accepted_at', 'is', null)
      .where('revoked_at', 'is', null)
      .returning(['id', 'email'])
      .executeTakeFirst();
    if (!row) throw new AppError('INVITATION_NOT_OPEN');
    await recordAudit(
      trx,
      {
        type: 'company.invitation_revoked',
        companyId,
        actor: by.actor,
        details: { invitation: row.id, email: row.email },
      },
      by.meta,
    );
  });
}

/** A company's invitations, newest first (keyset on created_at, id). */
export async function listInvitations(
  db: Db,
  companyId: string,
  page: { after?: string | undefined; limit: number },
): Promise<InvitationView[]> {
  if (!isUuid(companyId)) return [];
  let query = db
    .selectFrom('company_invitations')
    .selectAll()
    .where('company_id', '=', companyId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit);
  const cursor = parseInvitationCursor(page.after);
  if (cursor) {
    query = query.where((eb) =>
      eb.or([eb('created_at', '<', cursor.at), eb.and([eb('created_at', '=', cursor.at), eb('id', '<', cursor.id)])]),
    );
  } else if (page.after !== undefined) return [];
  return (await query.execute()).map(invitationView);
}

export const invitationCursor = (view: InvitationView): string =>
  Buffer.from(`${view.created_at}|${view.id}`).toString('base64url');

function parseInvitationCursor(value: string | undefined): { at: Date; id: string } | undefined {
  if (!value || value.length > 200) return undefined;
  const [at = '', id = ''] = Buffer.from(value, 'base64url').toString().split('|');
  const date = new Date(at);
  return isUuid(id) && !Number.isNaN(date.getTime()) ? { at: date, id } : undefined;
}

export interface OpenInvitation {
  invitation: CompanyInvitationRow;
  company: CompanyRow;
}

const CLOSED = {
  expired: 'INVITATION_EXPIRED',
  revoked: 'INVITATION_REVOKED',
  accepted: 'INVITATION_USED',
} as const;

/**
 * The invitation a link's token names, if it can still be used; otherwise why not (unknown,
 * expired, revoked, used). The lookup is a code check: one attempt per IP is counted,
 * atomically, before the token is looked at.
 */
export async function openInvitation(
  db: Db,
  perIp: RateLimiterAbstract,
  token: string,
  meta: Pick<RequestMeta, 'ip'>,
): Promise<OpenInvitation> {
  await consumeOrRefuse(perIp, limiterKey('invitation', meta.ip));
  if (!/^[A-Za-z0-9_-]{22}$/.test(token)) throw new AppError('INVITATION_NOT_FOUND');
  const hash = tokenHash(token);
  const row = await db.selectFrom('company_invitations').selectAll().where('token_hash', '=', hash).executeTakeFirst();
  // The index finds the row by the hash; compared again in constant time all the same.
  if (!row || !timingSafeEqual(Buffer.from(row.token_hash), Buffer.from(hash))) {
    throw new AppError('INVITATION_NOT_FOUND');
  }
  const status = invitationStatus(row);
  if (status !== 'pending') throw new AppError(CLOSED[status]);
  const company = await findCompany(db, row.company_id);
  if (!company) throw new AppError('INVITATION_NOT_FOUND');
  return { invitation: row, company };
}

/**
 * Uses the invitation up, once: a conditional UPDATE, so of two parallel accepts exactly one gets
 * the row; the other is told why the link no longer works. Call it in the accepting transaction.
 */
export async function claimInvitation(trx: Db, id: string): Promise<CompanyInvitationRow> {
  const row = await trx
    .updateTable('company_invitations')
    .set({ accepted_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .returningAll()
    .executeTakeFirst();
  if (row) return row;
  const now = await trx.selectFrom('company_invitations').selectAll().where('id', '=', id).executeTakeFirst();
  const status = now ? invitationStatus(now) : 'revoked';
  throw new AppError(status === 'pending' ? 'INVITATION_EXPIRED' : CLOSED[status]);
}

/**
 * The invitee joins the company as a member (a member already keeps their role), in the
 * transaction that claimed the invitation; audited with the invitee as actor.
 */
export async function joinByInvitation(
  trx: Db,
  invitation: CompanyInvitationRow,
  accountId: string,
  meta?: RequestMeta,
): Promise<void> {
  await trx.updateTable('company_invitations').set({ account_id: accountId }).where('id', '=', invitation.id).execute();
  const by = { actor: accountId, meta };
  if (!(await roleIn(trx, invitation.company_id, accountId))) {
    await putMember(trx, invitation.company_id, accountId, 'member', by);
  }
  await recordAudit(
    trx,
    {
      type: 'company.invitation_accepted',
      companyId: invitation.company_id,
      accountId,
      actor: accountId,
      details: { invitation: invitation.id },
    },
    meta,
  );
}

/** An invitee who has an account accepts while logged in, as the invited address and no other. */
export async function acceptInvitation(
  db: Db,
  open: OpenInvitation,
  account: Pick<AccountRow, 'id' | 'email'>,
  meta: RequestMeta,
): Promise<void> {
  if (normalizeEmail(account.email) !== open.invitation.email) throw new AppError('INVITATION_OTHER_ACCOUNT');
  await db.transaction().execute(async (trx) => {
    const row = await claimInvitation(trx, open.invitation.id);
    await joinByInvitation(trx, row, account.id, meta);
  });
}

export { companyName };
