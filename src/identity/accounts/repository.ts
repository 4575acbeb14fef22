import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { AccountRow, AccountUpdate, ConsentedAccess, NewAccount } from '../../db/schema.js';
import { normalizeEmail } from './email.js';
import { isUuid } from '../../db/uuid.js';
import { compiledOnce } from '../../db/compiled-once.js';

export async function findAccountById(db: Db, id: string): Promise<AccountRow | undefined> {
  if (!isUuid(id)) return undefined;
  return db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findAccountByEmail(db: Db, email: string): Promise<AccountRow | undefined> {
  return db
    .selectFrom('accounts')
    .selectAll()
    .where(sql`lower(email)`, '=', normalizeEmail(email))
    .executeTakeFirst();
}

/**
 * Whether the account named by `accountId` (a column of the outer query, e.g. 'accounts.id') has
 * an active second factor: a correlated EXISTS, so a list reads it in the same statement.
 */
export function hasActiveFactor(db: Db, accountId: string) {
  return sql<boolean>`exists (${db
    .selectFrom('mfa_factors')
    .select('mfa_factors.id')
    .where('mfa_factors.account_id', '=', sql.ref<string>(accountId))
    .where('mfa_factors.state', '=', 'active')})`;
}

/**
 * Whether the account named by `accountId` (a column of the outer query) belongs to a company
 * that requires two-step verification of its members (issue 15): a correlated EXISTS.
 */
export function companyRequiresMfa(db: Db, accountId: string) {
  return sql<boolean>`exists (${db
    .selectFrom('company_memberships')
    .innerJoin('companies', 'companies.id', 'company_memberships.company_id')
    .select('company_memberships.company_id')
    .where('company_memberships.account_id', '=', sql.ref<string>(accountId))
    .where('companies.require_mfa', '=', true)})`;
}

/**
 * What the account named by `accountId` (a column of the outer query, or a value) last allowed
 * the app `clientId`, from its live grants that are not revoked (src/oidc/remembered-consent.ts):
 * a scalar subquery, null when there is none.
 */
export function lastConsent(db: Db, accountId: string | ReturnType<typeof sql.val<string>>, clientId: string) {
  return sql<ConsentedAccess | null>`(${db
    .selectFrom('account_grants')
    .select('account_grants.consented')
    .where('account_grants.account_id', '=', typeof accountId === 'string' ? sql.ref<string>(accountId) : accountId)
    .where('account_grants.client_id', '=', clientId)
    .where('account_grants.revoked_at', 'is', null)
    .where('account_grants.consented', 'is not', null)
    .where((eb) =>
      eb.or([eb('account_grants.expires_at', 'is', null), eb('account_grants.expires_at', '>', sql<Date>`now()`)]),
    )
    .orderBy('account_grants.created_at', 'desc')
    .limit(1)})`;
}

/** What the login reads with the account, besides its row. */
export interface LoginFacts {
  has_active_factor: boolean;
  has_passkey: boolean;
  company_requires_mfa: boolean;
  /** What the account last allowed the app it is logging in to (lastConsent). */
  last_consent: ConsentedAccess | null;
}

/**
 * The account with an address, whether it has an active second factor, whether it has a
 * passkey (the offer of one after the login), whether a company of its requires two-step
 * verification and what it last allowed the app `clientId`: what the login needs, in one
 * statement, built once (compiledOnce).
 */
const accountForLogin = compiledOnce(
  (db: Db, normalizedEmail: string, clientId: string) =>
    db
      .selectFrom('accounts')
      .selectAll('accounts')
      .select(hasActiveFactor(db, 'accounts.id').as('has_active_factor'))
      .select(companyRequiresMfa(db, 'accounts.id').as('company_requires_mfa'))
      .select(lastConsent(db, 'accounts.id', clientId).as('last_consent'))
      .select((eb) =>
        eb
          .exists(
            eb
              .selectFrom('webauthn_credentials')
              .select('webauthn_credentials.id')
              .whereRef('webauthn_credentials.account_id', '=', 'accounts.id'),
          )
          .$castTo<boolean>()
          .as('has_passkey'),
      )
      .where(sql`lower(email)`, '=', normalizedEmail),
  ['\u0000email', '\u0000client'],
);

export async function findAccountForLogin(
  db: Db,
  email: string,
  clientId: string,
): Promise<(AccountRow & LoginFacts) | undefined> {
  const [row] = await accountForLogin(db, normalizeEmail(email), clientId);
  return row;
}

export async function insertAccount(db: Db, account: NewAccount): Promise<AccountRow> {
  return db.insertInto('accounts').values(account).returningAll().executeTakeFirstOrThrow();
}

export async function updateAccount(db: Db, id: string, changes: AccountUpdate): Promise<void> {
  await db
    .updateTable('accounts')
    .set({ ...changes, updated_at: new Date() })
    .where('id', '=', id)
    .execute();
}

/** Whether a company the account belongs to requires two-step verification of its members. */
export async function accountCompanyRequiresMfa(db: Db, accountId: string): Promise<boolean> {
  const row = await db
    .selectFrom('accounts')
    .select(companyRequiresMfa(db, 'accounts.id').as('required'))
    .where('id', '=', accountId)
    .executeTakeFirst();
  return row?.required === true;
}
