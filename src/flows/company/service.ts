import type { Db } from '../../db/database.js';
import type { CompanyRole, CompanyRow } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import { findCompany, isUuid, roleIn } from '../../identity/companies/repository.js';
import { findMember, type MemberView } from '../../identity/companies/members.js';

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

export interface CompanyEvent {
  id: string;
  at: Date;
  type: string;
  actor: string | null;
  target: string | null;
  details: Record<string, unknown>;
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
  return query.execute();
}
