import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { AccountStatus, CompanyRole } from '../../db/schema.js';
import { hasActiveFactor } from '../accounts/repository.js';
import { isUuid } from '../../db/uuid.js';

export interface MemberView {
  account_id: string;
  email: string;
  given_name: string;
  family_name: string;
  role: CompanyRole;
  status: AccountStatus;
  mfa_enabled: boolean;
  joined_at: string;
}

export interface MemberSearch {
  /** Part of the address or of either name, case-insensitive. */
  q?: string | undefined;
  /** The lowercased address of the last member of the previous page. */
  after?: string | undefined;
  limit: number;
  /** Only this member. */
  accountId?: string | undefined;
}

const likeAnywhere = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** A company's members ordered by address (keyset on lower(email), unique), optionally searched. */
export async function searchMembers(db: Db, companyId: string, search: MemberSearch): Promise<MemberView[]> {
  let query = db
    .selectFrom('company_memberships as m')
    .innerJoin('accounts as a', 'a.id', 'm.account_id')
    .select(['a.id as account_id', 'a.email', 'a.given_name', 'a.family_name', 'm.role', 'a.status', 'm.created_at'])
    .select(hasActiveFactor(db, 'a.id').as('mfa_enabled'))
    .where('m.company_id', '=', companyId)
    .orderBy(sql`lower(a.email)`)
    .limit(search.limit);
  const q = search.q?.trim().toLowerCase();
  if (q) {
    const pattern = likeAnywhere(q);
    query = query.where((eb) =>
      eb.or([
        eb(sql`lower(a.email)`, 'like', pattern),
        eb(sql`lower(a.given_name)`, 'like', pattern),
        eb(sql`lower(a.family_name)`, 'like', pattern),
      ]),
    );
  }
  if (search.accountId !== undefined) query = query.where('m.account_id', '=', search.accountId);
  if (search.after !== undefined) query = query.where(sql`lower(a.email)`, '>', search.after);
  const rows = await query.execute();
  return rows.map(({ created_at, ...row }) => ({ ...row, joined_at: created_at.toISOString() }));
}

export const memberCursor = (member: { email: string }): string =>
  Buffer.from(member.email.toLowerCase()).toString('base64url');

export function parseMemberCursor(cursor: string | undefined): string | undefined {
  if (!cursor || !/^[\w-]+$/.test(cursor)) return undefined;
  return Buffer.from(cursor, 'base64url').toString('utf8');
}

/** One member of a company, or undefined. */
export async function findMember(db: Db, companyId: string, accountId: string): Promise<MemberView | undefined> {
  if (!isUuid(companyId) || !isUuid(accountId)) return undefined;
  const [member] = await searchMembers(db, companyId, { accountId, limit: 1 });
  return member;
}
