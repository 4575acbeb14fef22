import type { Account, FindAccount } from 'oidc-provider';
import type { Db } from '../db/database.js';
import type { AccountRow } from '../db/schema.js';
import type { RecentAccounts } from '../identity/accounts/recent.js';
import { findAccountById } from '../identity/accounts/repository.js';
import { membershipsOf } from '../identity/companies/repository.js';
import { personName } from '../text/format.js';

/** The OP2 claims of an account; oidc-provider masks them down to what the scopes allow. */
export function accountClaims(account: AccountRow): Record<string, unknown> {
  return {
    sub: account.id,
    email: account.email,
    email_verified: account.email_verified,
    name: personName(account, account.locale),
    given_name: account.given_name,
    family_name: account.family_name,
    locale: account.locale,
    zoneinfo: account.zoneinfo ?? undefined,
    phone_number: account.phone_number ?? undefined,
    phone_number_verified: account.phone_number ? account.phone_number_verified : undefined,
    updated_at: Math.floor(account.updated_at.getTime() / 1000),
  };
}

/** The `companies` claim: every company the account belongs to, with its role there. */
export async function companiesClaim(
  db: Db,
  accountId: string,
): Promise<{ id: string; name_ja: string; name_latin: string; role: string }[]> {
  return (await membershipsOf(db, accountId)).map((m) => ({
    id: m.company_id,
    name_ja: m.name_ja,
    name_latin: m.name_latin,
    role: m.role,
  }));
}

/**
 * Only active accounts exist for the provider: once an account is put on hold or disabled, its
 * tokens stop working at userinfo, introspection and refresh. An account read here is kept for
 * a few seconds (RecentAccounts), so a relying party that calls userinfo or refreshes right after
 * a login, or again and again, does not read it each time.
 */
export function createFindAccount(db: Db, recent?: RecentAccounts): FindAccount {
  return async (_ctx, sub): Promise<Account | undefined> => {
    let account = recent?.recall(sub);
    if (!account) {
      account = await findAccountById(db, sub);
      if (account) recent?.remember(account);
    }
    if (!account || account.status !== 'active') return undefined;
    return {
      accountId: account.id,
      claims: async (_use, scope) => {
        const claims = accountClaims(account);
        // Read only when asked for: most tokens are for apps that do not ask for the scope.
        if (scope.split(' ').includes('companies')) claims.companies = await companiesClaim(db, account.id);
        return claims as { sub: string };
      },
      // Issue 17's company policy, read by the login prompt's check (src/oidc/provider.ts).
      phishingResistantRequired: account.require_phishing_resistant,
    };
  };
}
