import type { Db } from '../../db/database.js';
import type { CompanyRole, CompanyRow } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { isUuid } from '../../db/uuid.js';
import { findCompany, roleIn } from '../../identity/companies/repository.js';
import { findMember, type MemberView } from '../../identity/companies/members.js';
import type { AuditType } from '../../security/audit.js';

/** Who may see a company's pages: its admins, and nobody else (not members, not other companies' admins). */
export async function companyForAdmin(db: Db, companyId: string, accountId: string): Promise<CompanyRow> {
  const company = isUuid(companyId) ? await findCompany(db, companyId) : undefined;
  // One answer for "no such company" and "not yours": the id of another company tells nothing.
  if (!company || (await roleIn(db, company.id, accountId)) !== 'admin') throw new AppError('COMPANY_FORBIDDEN');
  return company;
}

/** A member of the company the admin acts on; anyone else is refused like a stranger's company. */
export async function memberOfCompany(db: Db, companyId: string, accountId: string): Promise<MemberView> {
  const member = await findMember(db, companyId, accountId);
  if (!member) throw new AppError('NOT_FOUND');
  return member;
}

/** The companies an account administers, for /company. */
export async function companiesAdministeredBy(db: Db, accountId: string) {
  return db
    .selectFrom('company_memberships as m')
    .innerJoin('companies as c', 'c.id', 'm.company_id')
    .select(['c.id', 'c.name_ja', 'c.name_latin'])
    .where('m.account_id', '=', accountId)
    .where('m.role', '=', 'admin' satisfies CompanyRole)
    .orderBy('c.name_latin')
    .execute();
}

/**
 * Every event type recorded with a company's id, so shown on its audit page, with the variants
 * of its sentence (message keys `company.events.<type with _ for .>[_<variant>]`). Recorded with a
 * company id: the company.* events, and the member actions of /company that are account events
 * (hold and release through setAccountStatus, the MFA reset through removeMfaByAdmin).
 */
export const COMPANY_EVENT_VARIANTS = {
  'company.created': [],
  'company.updated': ['mfa_on', 'mfa_off'],
  'company.domain_added': [],
  'company.domain_removed': [],
  'company.domain_verified': [],
  'company.domain_verification_failed': [],
  'company.domain_updated': ['auto', 'invitation'],
  'company.member_added': ['admin'],
  'company.member_removed': ['email_changed'],
  'company.role_changed': ['admin', 'member'],
  'company.invited': [],
  'company.invitation_resent': [],
  'company.invitation_revoked': [],
  'company.invitation_accepted': [],
  'company.rename_started': [],
  'company.rename_finished': [],
  'account.held': [],
  'account.released': [],
  'account.email_change_started': [],
  'account.email_change_resent': [],
  'account.email_changed': [],
  'admin.user.mfa_removed': [],
} as const satisfies Partial<Record<AuditType, readonly string[]>>;

type CompanyEventType = keyof typeof COMPANY_EVENT_VARIANTS;

const ADDRESS_CHANGE_EVENTS: readonly string[] = [
  'account.email_change_started',
  'account.email_change_resent',
  'account.email_changed',
] satisfies AuditType[];

const isCompanyEventType = (type: string): type is CompanyEventType => Object.hasOwn(COMPANY_EVENT_VARIANTS, type);

/** The variant of an event's sentence its details call for, if any. */
function variantOf(type: CompanyEventType, details: Record<string, unknown>): string | undefined {
  switch (type) {
    case 'company.updated':
      return details.require_mfa === true ? 'mfa_on' : details.require_mfa === false ? 'mfa_off' : undefined;
    case 'company.domain_updated':
      return details.join_policy === 'auto' || details.join_policy === 'invitation' ? details.join_policy : undefined;
    case 'company.member_added':
      return details.role === 'admin' ? 'admin' : undefined;
    case 'company.member_removed':
      return details.reason === 'email_changed' ? 'email_changed' : undefined;
    case 'company.role_changed':
      return details.to === 'admin' || details.to === 'member' ? details.to : undefined;
    default:
      return undefined;
  }
}

export const eventTextKey = (type: string, variant?: string): string =>
  `company.events.${type.replace(/\./g, '_')}${variant ? `_${variant}` : ''}`;

/** Every message key the audit page can use, for the test that each has Japanese and English text. */
export const COMPANY_EVENT_TEXT_KEYS: string[] = Object.entries(COMPANY_EVENT_VARIANTS).flatMap(
  ([type, variants]: [string, readonly string[]]) => [
    eventTextKey(type),
    ...variants.map((v) => eventTextKey(type, v)),
  ],
);

/**
 * The sentence of an event: its message key and the values it names (a domain, an address).
 * A type without one (recorded with a company id by code added later) is shown by its name.
 */
export function eventText(
  type: string,
  details: Record<string, unknown>,
): { key: string; domain?: string; email?: string; from?: string; to?: string } | undefined {
  if (!isCompanyEventType(type)) return undefined;
  const text = (name: string) => (typeof details[name] === 'string' ? { [name]: details[name] } : {});
  // An address change names its new address (`to`).
  const to = ADDRESS_CHANGE_EVENTS.includes(type) && typeof details.to === 'string' ? { email: details.to } : {};
  return {
    key: eventTextKey(type, variantOf(type, details)),
    ...text('domain'),
    ...text('email'),
    ...text('from'),
    ...text('to'),
    ...to,
  };
}

export interface CompanyEvent {
  id: string;
  at: Date;
  type: string;
  actor: string | null;
  target: string | null;
  details: Record<string, unknown>;
  text?: ReturnType<typeof eventText>;
}

/** The company's audit events, newest first, with the addresses of the actor and the account concerned. */
export async function companyEvents(db: Db, companyId: string, before?: string, limit = 50): Promise<CompanyEvent[]> {
  let query = db
    .selectFrom('audit_events as e')
    .leftJoin('accounts as target', 'target.id', 'e.account_id')
    .leftJoin('accounts as actor', (join) => join.on((eb) => eb(eb.cast('actor.id', 'text'), '=', eb.ref('e.actor'))))
    .select(['e.id', 'e.at', 'e.type', 'e.details', 'target.email as target'])
    .select((eb) => eb.fn.coalesce('actor.email', 'e.actor').as('actor'))
    .where('e.company_id', '=', companyId)
    .orderBy('e.id', 'desc')
    .limit(limit);
  if (before && /^\d+$/.test(before)) query = query.where('e.id', '<', before);
  return (await query.execute()).map((e) => ({ ...e, text: eventText(e.type, e.details) }));
}
