import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { CompanyDomainRow, CompanyRole, CompanyRow } from '../../db/schema.js';
import { isUuid } from '../../db/uuid.js';

export async function findCompany(db: Db, id: string): Promise<CompanyRow | undefined> {
  if (!isUuid(id)) return undefined;
  return db.selectFrom('companies').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function domainsOf(db: Db, companyId: string): Promise<CompanyDomainRow[]> {
  return db.selectFrom('company_domains').selectAll().where('company_id', '=', companyId).orderBy('domain').execute();
}

/** The company that has verified this domain, if any (only one may). */
export async function companyOfVerifiedDomain(db: Db, domain: string): Promise<CompanyDomainRow | undefined> {
  return db
    .selectFrom('company_domains')
    .selectAll()
    .where('domain', '=', domain)
    .where('verified_at', 'is not', null)
    .executeTakeFirst();
}

export interface Membership {
  company_id: string;
  name_ja: string;
  name_latin: string;
  role: CompanyRole;
}

/** Every company an account belongs to, with its role there. */
export async function membershipsOf(db: Db, accountId: string): Promise<Membership[]> {
  if (!isUuid(accountId)) return [];
  return db
    .selectFrom('company_memberships as m')
    .innerJoin('companies as c', 'c.id', 'm.company_id')
    .select(['m.company_id', 'c.name_ja', 'c.name_latin', 'm.role'])
    .where('m.account_id', '=', accountId)
    .orderBy('c.name_latin')
    .execute();
}

export async function roleIn(db: Db, companyId: string, accountId: string): Promise<CompanyRole | undefined> {
  if (!isUuid(companyId) || !isUuid(accountId)) return undefined;
  const row = await db
    .selectFrom('company_memberships')
    .select('role')
    .where('company_id', '=', companyId)
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  return row?.role;
}

/**
 * Whether the company manages the account's company fields: it does while the account belongs
 * to any company. Called in the transaction that changes a membership.
 */
export async function syncCompanyManaged(db: Db, accountId: string): Promise<void> {
  await db
    .updateTable('accounts')
    .set({
      company_managed: sql<boolean>`exists (select 1 from company_memberships m where m.account_id = accounts.id)`,
      updated_at: new Date(),
    })
    .where('id', '=', accountId)
    .execute();
}
