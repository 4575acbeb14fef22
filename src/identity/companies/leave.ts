import type { Db } from '../../db/database.js';
import type { CompanyRole } from '../../db/schema.js';
import type { RequestMeta } from '../../request-meta.js';
import { recordAudit } from '../../security/audit.js';
import { domainOfEmail } from './domains.js';
import { syncCompanyManaged } from './repository.js';

/**
 * M4: an account whose address moves out of a company's domains leaves that company. Ends every
 * membership of the account in a company that has verified domains, none of them the new
 * address's domain (a company without verified domains manages its members by hand and keeps
 * them); each one audited with the company's id. Once the account belongs to no company its
 * company fields are its own to edit again, and the `companies` claim stops listing it. Run it in
 * the transaction that changes the address. Returns the companies left.
 *
 * The last admin of a company leaves too: the address is no longer the company's, and the
 * company's operator can name a new admin (the admin API), where keeping a stranger as admin
 * could not be undone by anyone in the company.
 */
export async function leaveCompaniesOutside(
  trx: Db,
  accountId: string,
  newEmail: string,
  by: { actor: string; meta?: RequestMeta | undefined },
): Promise<string[]> {
  const domain = domainOfEmail(newEmail);
  const left = await trx
    .deleteFrom('company_memberships as m')
    .where('m.account_id', '=', accountId)
    .where((eb) => {
      const verified = () =>
        eb
          .selectFrom('company_domains as d')
          .select('d.domain')
          .whereRef('d.company_id', '=', 'm.company_id')
          .where('d.verified_at', 'is not', null);
      return eb.and([eb.exists(verified()), eb.not(eb.exists(verified().where('d.domain', '=', domain)))]);
    })
    .returning(['m.company_id', 'm.role'])
    .execute();
  if (left.length === 0) return [];
  await syncCompanyManaged(trx, accountId);
  for (const { company_id, role } of left) {
    await recordAudit(
      trx,
      {
        type: 'company.member_removed',
        companyId: company_id,
        accountId,
        actor: by.actor,
        details: { role: role satisfies CompanyRole, reason: 'email_changed', domain },
      },
      by.meta,
    );
  }
  return left.map((l) => l.company_id);
}
