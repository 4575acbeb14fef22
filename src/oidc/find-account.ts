import type { Account, FindAccount } from 'oidc-provider';
import type { Db } from '../db/database.js';
import type { AccountRow } from '../db/schema.js';
import { findAccountById } from '../identity/accounts/repository.js';

/** Japanese names read family name first. */
function displayName(account: AccountRow): string {
  return account.locale === 'ja'
    ? `${account.family_name} ${account.given_name}`
    : `${account.given_name} ${account.family_name}`;
}

/** The OP2 claims of an account; oidc-provider masks them down to what the scopes allow. */
export function accountClaims(account: AccountRow): Record<string, unknown> {
  return {
    sub: account.id,
    email: account.email,
    email_verified: account.email_verified,
    name: displayName(account),
    given_name: account.given_name,
    family_name: account.family_name,
    locale: account.locale,
    zoneinfo: account.zoneinfo ?? undefined,
    phone_number: account.phone_number ?? undefined,
    phone_number_verified: account.phone_number ? account.phone_number_verified : undefined,
    updated_at: Math.floor(account.updated_at.getTime() / 1000),
  };
}

/**
 * Only active accounts exist for the provider: once an account is put on hold or disabled, its
 * tokens stop working at userinfo, introspection and refresh.
 */
export function createFindAccount(db: Db): FindAccount {
  return async (_ctx, sub): Promise<Account | undefined> => {
    const account = await findAccountById(db, sub);
    if (!account || account.status !== 'active') return undefined;
    return { accountId: account.id, claims: () => accountClaims(account) as { sub: string } };
  };
}
