import type { Db } from '../../db/database.js';
import { isUniqueViolation } from '../../db/unique-violation.js';
import type { CompanyDomainRow, CompanyRole, CompanyRow, JoinPolicy } from '../../db/schema.js';
import { AppError, FormError, type ErrorCode } from '../../errors.js';
import type { RequestMeta } from '../../request-meta.js';
import { recordAudit } from '../../security/audit.js';
import { findAccountById } from '../accounts/repository.js';
import { normalizeCorporateNumber } from './corporate-number.js';
import { normalizeEmail } from '../accounts/email.js';
import { domainOfEmail, newVerificationToken, normalizeDomain, verificationRecord } from './domains.js';
import { isUuid } from '../../db/uuid.js';
import { companyOfVerifiedDomain, domainsOf, findCompany, syncCompanyManaged } from './repository.js';

/** Who acts, for the audit log: an admin client's client_id, 'cli', or a company admin's account id. */
export interface CompanyActor {
  actor: string;
  meta?: RequestMeta | undefined;
}

export interface DomainView {
  domain: string;
  verified: boolean;
  verified_at: string | null;
  join_policy: JoinPolicy;
  /** What the company publishes to prove the domain. */
  txt_record: { name: string; type: 'TXT'; value: string };
}

export interface CompanyView {
  id: string;
  name_ja: string;
  name_latin: string;
  corporate_number: string | null;
  require_mfa: boolean;
  domains: DomainView[];
  created_at: string;
}

export function domainView(row: CompanyDomainRow): DomainView {
  return {
    domain: row.domain,
    verified: row.verified_at !== null,
    verified_at: row.verified_at?.toISOString() ?? null,
    join_policy: row.join_policy,
    txt_record: { name: row.domain, type: 'TXT', value: verificationRecord(row.verification_token) },
  };
}

export function companyView(row: CompanyRow, domains: CompanyDomainRow[]): CompanyView {
  return {
    id: row.id,
    name_ja: row.name_ja,
    name_latin: row.name_latin,
    corporate_number: row.corporate_number,
    require_mfa: row.require_mfa,
    domains: domains.map(domainView),
    created_at: row.created_at.toISOString(),
  };
}

export async function getCompany(db: Db, id: string): Promise<CompanyView> {
  const row = await findCompany(db, id);
  if (!row) throw new AppError('NOT_FOUND');
  return companyView(row, await domainsOf(db, id));
}

/** Companies by id (a stable keyset), each with its domains. */
export async function listCompanies(
  db: Db,
  page: { after?: string | undefined; limit: number },
): Promise<CompanyView[]> {
  let query = db.selectFrom('companies').selectAll().orderBy('id').limit(page.limit);
  if (page.after !== undefined) {
    if (!isUuid(page.after)) return [];
    query = query.where('id', '>', page.after);
  }
  const rows = await query.execute();
  if (rows.length === 0) return [];
  const domains = await db
    .selectFrom('company_domains')
    .selectAll()
    .where(
      'company_id',
      'in',
      rows.map((r) => r.id),
    )
    .orderBy('domain')
    .execute();
  return rows.map((row) =>
    companyView(
      row,
      domains.filter((d) => d.company_id === row.id),
    ),
  );
}

const NAME_MAX = 200;

function nameProblems(nameJa: string | undefined, nameLatin: string | undefined): ErrorCode[] {
  const problems: ErrorCode[] = [];
  for (const name of [nameJa, nameLatin]) {
    if (name === undefined) continue;
    if (!name.trim()) problems.push('COMPANY_NAME_REQUIRED');
    else if (name.length > NAME_MAX) problems.push('FIELD_TOO_LONG');
  }
  // ASCII only for the Latin name: it is the one shown where Japanese script cannot be.
  if (nameLatin?.trim() && /[^\p{ASCII}]/u.test(nameLatin)) problems.push('COMPANY_NAME_LATIN_INVALID');
  return [...new Set(problems)];
}

function corporateNumberOf(input: string | null | undefined): string | null | undefined {
  if (input === undefined) return undefined;
  if (input === null || input.trim() === '') return null;
  const number = normalizeCorporateNumber(input);
  if (!number) throw new FormError(['CORPORATE_NUMBER_INVALID']);
  return number;
}

function domainOf(input: string): string {
  const domain = normalizeDomain(input);
  if (!domain) throw new FormError(['DOMAIN_INVALID']);
  return domain;
}

export interface NewCompany {
  name_ja: string;
  name_latin: string;
  corporate_number?: string | undefined;
  domains?: string[] | undefined;
  /** Account ids that become the company's admins. */
  admins?: string[] | undefined;
}

export async function createCompany(db: Db, input: NewCompany, by: CompanyActor): Promise<CompanyView> {
  const problems = nameProblems(input.name_ja, input.name_latin);
  if (problems.length) throw new FormError(problems);
  const corporateNumber = corporateNumberOf(input.corporate_number);
  const domains = [...new Set((input.domains ?? []).map(domainOf))];
  const admins = [...new Set(input.admins ?? [])];
  for (const id of admins) if (!(await findAccountById(db, id))) throw new AppError('ACCOUNT_NOT_FOUND');
  try {
    const id = await db.transaction().execute(async (trx) => {
      const company = await trx
        .insertInto('companies')
        .values({
          name_ja: input.name_ja.trim(),
          name_latin: input.name_latin.trim(),
          corporate_number: corporateNumber ?? null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await recordAudit(
        trx,
        {
          type: 'company.created',
          companyId: company.id,
          actor: by.actor,
          details: { domains, admins: admins.length },
        },
        by.meta,
      );
      for (const domain of domains) {
        await trx
          .insertInto('company_domains')
          .values({ company_id: company.id, domain, verification_token: newVerificationToken() })
          .execute();
      }
      for (const accountId of admins) await putMember(trx, company.id, accountId, 'admin', by);
      return company.id;
    });
    return await getCompany(db, id);
  } catch (err) {
    if (isUniqueViolation(err, 'companies_corporate_number_key')) throw new AppError('CORPORATE_NUMBER_TAKEN');
    throw err;
  }
}

export interface CompanyChange {
  name_ja?: string | undefined;
  name_latin?: string | undefined;
  corporate_number?: string | null | undefined;
  require_mfa?: boolean | undefined;
}

export async function updateCompany(db: Db, id: string, change: CompanyChange, by: CompanyActor): Promise<CompanyView> {
  if (!(await findCompany(db, id))) throw new AppError('NOT_FOUND');
  const problems = nameProblems(change.name_ja, change.name_latin);
  if (problems.length) throw new FormError(problems);
  const corporateNumber = corporateNumberOf(change.corporate_number);
  try {
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('companies')
        .set({
          ...(change.name_ja !== undefined ? { name_ja: change.name_ja.trim() } : {}),
          ...(change.name_latin !== undefined ? { name_latin: change.name_latin.trim() } : {}),
          ...(corporateNumber !== undefined ? { corporate_number: corporateNumber } : {}),
          ...(change.require_mfa !== undefined ? { require_mfa: change.require_mfa } : {}),
          updated_at: new Date(),
        })
        .where('id', '=', id)
        .execute();
      await recordAudit(
        trx,
        {
          type: 'company.updated',
          companyId: id,
          actor: by.actor,
          details: {
            fields: Object.keys(change).sort(),
            ...(change.require_mfa !== undefined ? { require_mfa: change.require_mfa } : {}),
          },
        },
        by.meta,
      );
    });
  } catch (err) {
    if (isUniqueViolation(err, 'companies_corporate_number_key')) throw new AppError('CORPORATE_NUMBER_TAKEN');
    throw err;
  }
  return getCompany(db, id);
}

/** Claims a domain for the company: unverified until its TXT record is found (see verification.ts). */
export async function addDomain(db: Db, companyId: string, input: string, by: CompanyActor): Promise<DomainView> {
  if (!(await findCompany(db, companyId))) throw new AppError('NOT_FOUND');
  const domain = domainOf(input);
  const taken = await companyOfVerifiedDomain(db, domain);
  if (taken && taken.company_id !== companyId) throw new AppError('DOMAIN_TAKEN');
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('company_domains')
      .values({ company_id: companyId, domain, verification_token: newVerificationToken() })
      .onConflict((oc) => oc.columns(['company_id', 'domain']).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!row) {
      const existing = await trx
        .selectFrom('company_domains')
        .selectAll()
        .where('company_id', '=', companyId)
        .where('domain', '=', domain)
        .executeTakeFirstOrThrow();
      return domainView(existing);
    }
    await recordAudit(trx, { type: 'company.domain_added', companyId, actor: by.actor, details: { domain } }, by.meta);
    return domainView(row);
  });
}

async function companyDomain(db: Db, companyId: string, input: string): Promise<CompanyDomainRow> {
  const domain = normalizeDomain(input);
  const row =
    domain && isUuid(companyId)
      ? await db
          .selectFrom('company_domains')
          .selectAll()
          .where('company_id', '=', companyId)
          .where('domain', '=', domain)
          .executeTakeFirst()
      : undefined;
  if (!row) throw new AppError('NOT_FOUND');
  return row;
}

export async function removeDomain(db: Db, companyId: string, input: string, by: CompanyActor): Promise<void> {
  const row = await companyDomain(db, companyId, input);
  await db.transaction().execute(async (trx) => {
    await trx
      .deleteFrom('company_domains')
      .where('company_id', '=', companyId)
      .where('domain', '=', row.domain)
      .execute();
    await recordAudit(
      trx,
      { type: 'company.domain_removed', companyId, actor: by.actor, details: { domain: row.domain } },
      by.meta,
    );
  });
}

/** Whether sign-ups with the domain join on their own ('auto') or need an invitation. */
export async function setJoinPolicy(
  db: Db,
  companyId: string,
  input: string,
  policy: JoinPolicy,
  by: CompanyActor,
): Promise<DomainView> {
  const row = await companyDomain(db, companyId, input);
  return db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('company_domains')
      .set({ join_policy: policy })
      .where('company_id', '=', companyId)
      .where('domain', '=', row.domain)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(
      trx,
      {
        type: 'company.domain_updated',
        companyId,
        actor: by.actor,
        details: { domain: row.domain, join_policy: policy },
      },
      by.meta,
    );
    return domainView(updated);
  });
}

export { companyDomain };

/**
 * An admin is about to leave the company or step down (its membership row is locked by then):
 * refused unless another admin remains. The company's row is locked first (FOR NO KEY UPDATE, so
 * new memberships' foreign-key checks are not blocked), so two admins demoting or removing each
 * other at once are taken one after the other and the second sees the first's change: one stays.
 * Must run inside the transaction that makes the change.
 */
async function keepAnAdmin(db: Db, companyId: string, leaving: string): Promise<void> {
  await db.selectFrom('companies').select('id').where('id', '=', companyId).forNoKeyUpdate().execute();
  const another = await db
    .selectFrom('company_memberships')
    .select('account_id')
    .where('company_id', '=', companyId)
    .where('role', '=', 'admin' satisfies CompanyRole)
    .where('account_id', '!=', leaving)
    .limit(1)
    .executeTakeFirst();
  if (!another) throw new AppError('COMPANY_LAST_ADMIN');
}

/** Adds the account to the company with the role, or changes its role; audited in the same transaction. */
export async function putMember(
  db: Db,
  companyId: string,
  accountId: string,
  role: CompanyRole,
  by: CompanyActor,
): Promise<{ changed: boolean }> {
  const before = await db
    .selectFrom('company_memberships')
    .select('role')
    .where('company_id', '=', companyId)
    .where('account_id', '=', accountId)
    .forUpdate()
    .executeTakeFirst();
  if (before?.role === role) return { changed: false };
  if (before?.role === 'admin') await keepAnAdmin(db, companyId, accountId);
  if (before) {
    await db
      .updateTable('company_memberships')
      .set({ role })
      .where('company_id', '=', companyId)
      .where('account_id', '=', accountId)
      .execute();
  } else {
    await db.insertInto('company_memberships').values({ company_id: companyId, account_id: accountId, role }).execute();
    await syncCompanyManaged(db, accountId);
  }
  await recordAudit(
    db,
    {
      type: before ? 'company.role_changed' : 'company.member_added',
      companyId,
      accountId,
      actor: by.actor,
      details: before ? { from: before.role, to: role } : { role },
    },
    by.meta,
  );
  return { changed: true };
}

/** setMember in its own transaction, after checking the company and the account exist. */
export async function setMembership(
  db: Db,
  companyId: string,
  accountId: string,
  role: CompanyRole,
  by: CompanyActor,
): Promise<void> {
  if (!(await findCompany(db, companyId))) throw new AppError('NOT_FOUND');
  if (!(await findAccountById(db, accountId))) throw new AppError('ACCOUNT_NOT_FOUND');
  await db.transaction().execute((trx) => putMember(trx, companyId, accountId, role, by));
}

/**
 * Ends a membership (M4): the company role is gone, and once the account belongs to no company
 * its company fields are the owner's to edit again. RPs see it in the `companies` claim.
 */
export async function removeMembership(
  db: Db,
  companyId: string,
  accountId: string,
  by: CompanyActor & { reason?: string },
): Promise<void> {
  if (!isUuid(companyId) || !isUuid(accountId)) throw new AppError('NOT_FOUND');
  await db.transaction().execute(async (trx) => {
    const removed = await trx
      .deleteFrom('company_memberships')
      .where('company_id', '=', companyId)
      .where('account_id', '=', accountId)
      .returning('role')
      .executeTakeFirst();
    if (!removed) throw new AppError('NOT_FOUND');
    if (removed.role === 'admin') await keepAnAdmin(trx, companyId, accountId);
    await syncCompanyManaged(trx, accountId);
    await recordAudit(
      trx,
      {
        type: 'company.member_removed',
        companyId,
        accountId,
        actor: by.actor,
        details: { role: removed.role, ...(by.reason ? { reason: by.reason } : {}) },
      },
      by.meta,
    );
  });
}

/**
 * A new account whose address is in a verified domain with join policy 'auto' joins that company
 * as a member, in the transaction that activates it. Returns the company's id, if any.
 */
export async function joinByDomain(db: Db, accountId: string, email: string): Promise<string | undefined> {
  const domain = domainOfEmail(normalizeEmail(email));
  const row = await db
    .selectFrom('company_domains')
    .select('company_id')
    .where('domain', '=', domain)
    .where('verified_at', 'is not', null)
    .where('join_policy', '=', 'auto')
    .executeTakeFirst();
  if (!row) return undefined;
  const inserted = await db
    .insertInto('company_memberships')
    .values({ company_id: row.company_id, account_id: accountId, role: 'member' })
    .onConflict((oc) => oc.columns(['company_id', 'account_id']).doNothing())
    .returning('company_id')
    .executeTakeFirst();
  if (!inserted) return row.company_id;
  await syncCompanyManaged(db, accountId);
  await recordAudit(db, {
    type: 'company.member_added',
    companyId: row.company_id,
    accountId,
    actor: 'system',
    details: { role: 'member', via: 'domain', domain },
  });
  return row.company_id;
}
