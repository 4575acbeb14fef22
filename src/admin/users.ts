import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { AccountRow, AccountStatus } from '../db/schema.js';
import { AppError, FormError, type ErrorCode } from '../errors.js';
import { endAccountAccess, type SessionRevoker } from '../identity/accounts/access.js';
import { unlockAccount } from '../identity/accounts/lock.js';
import { namesProblems } from '../identity/accounts/names.js';
import { parsePhone } from '../identity/accounts/phone.js';
import { findAccountById, hasActiveFactor } from '../identity/accounts/repository.js';
import { createAccount } from '../identity/accounts/service.js';
import { setAccountStatus, type SettableStatus } from '../identity/accounts/status.js';
import { removeMfaByAdmin } from '../identity/factors/mfa.js';
import type { PasswordHasher } from '../identity/password/hashing.js';
import type { PasswordPolicy } from '../identity/password/policy.js';
import type { CredentialThrottle } from '../security/rate-limit/credential-throttle.js';
import { recordAudit } from '../security/audit.js';
import type { SecretBox } from '../security/secret-box.js';
import type { Actor } from './clients.js';
import { isUuid } from '../db/uuid.js';

/** What managing users needs: the server has it, and so does the CLI on the database. */
export interface UserServices {
  db: Db;
  box: SecretBox;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  revoker: SessionRevoker;
  credentialThrottle: CredentialThrottle;
  /** Nudges this process's courier (the CLI has none: a server's courier hears the outbox's NOTIFY). */
  mailQueued?: () => void;
}

/** A user as the admin API shows it: OIDC claim names, plus id, status, created_at. */
export interface UserView {
  id: string;
  email: string;
  email_verified: boolean;
  given_name: string;
  family_name: string;
  locale: string;
  zoneinfo: string | null;
  phone_number: string | null;
  phone_number_verified: boolean;
  company_name: string | null;
  status: AccountStatus;
  /** Locked after too many wrong passwords in a row (unlock lifts it). */
  locked: boolean;
  mfa_enabled: boolean;
  /** Company policy (issue 17): only a passkey or security key may complete a login. */
  require_phishing_resistant: boolean;
  created_at: string;
}

type UserRow = AccountRow & { mfa_enabled: boolean };

function userView(row: UserRow): UserView {
  return {
    id: row.id,
    email: row.email,
    email_verified: row.email_verified,
    given_name: row.given_name,
    family_name: row.family_name,
    locale: row.locale,
    zoneinfo: row.zoneinfo,
    phone_number: row.phone_number,
    phone_number_verified: row.phone_number_verified,
    company_name: row.company_name,
    status: row.status,
    locked: row.locked_at !== null,
    mfa_enabled: row.mfa_enabled,
    require_phishing_resistant: row.require_phishing_resistant,
    created_at: row.created_at.toISOString(),
  };
}

function usersQuery(db: Db) {
  return db.selectFrom('accounts').selectAll('accounts').select(hasActiveFactor(db, 'accounts.id').as('mfa_enabled'));
}

export async function getUser(services: Pick<UserServices, 'db'>, id: string): Promise<UserView> {
  if (!isUuid(id)) throw new AppError('NOT_FOUND');
  const row = await usersQuery(services.db).where('accounts.id', '=', id).executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND');
  return userView(row);
}

export interface UserSearch {
  emailPrefix?: string | undefined;
  status?: AccountStatus | undefined;
  company?: string | undefined;
  /** The lowercased email of the last user of the previous page. */
  after?: string | undefined;
  limit: number;
}

const likePrefix = (text: string) => `${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Users ordered by email address (keyset on lower(email), which is unique). */
export async function searchUsers(services: Pick<UserServices, 'db'>, search: UserSearch): Promise<UserView[]> {
  let query = usersQuery(services.db)
    .orderBy(sql`lower(accounts.email)`)
    .limit(search.limit);
  if (search.emailPrefix)
    query = query.where(sql`lower(accounts.email)`, 'like', likePrefix(search.emailPrefix.toLowerCase()));
  if (search.status) query = query.where('accounts.status', '=', search.status);
  if (search.company) query = query.where(sql`lower(accounts.company_name)`, '=', search.company.trim().toLowerCase());
  if (search.after !== undefined) query = query.where(sql`lower(accounts.email)`, '>', search.after);
  return (await query.execute()).map(userView);
}

export interface NewUser {
  email: string;
  password: string;
  given_name: string;
  family_name: string;
  locale?: 'ja' | 'en' | undefined;
  zoneinfo?: string | undefined;
  phone_number?: string | undefined;
  /** `pending`: the owner activates it from a mail; otherwise active with a verified address. */
  status?: 'pending' | 'active' | undefined;
}

const TIME_ZONES = new Set(Intl.supportedValuesOf('timeZone'));

function profileProblems(fields: {
  given_name?: string | undefined;
  family_name?: string | undefined;
  zoneinfo?: string | null | undefined;
  phone_number?: string | null | undefined;
}): { problems: ErrorCode[]; phone?: string | null } {
  const problems: ErrorCode[] = [];
  if (fields.given_name !== undefined || fields.family_name !== undefined)
    problems.push(...namesProblems(fields.given_name ?? 'x', fields.family_name ?? 'x'));
  if (fields.zoneinfo && !TIME_ZONES.has(fields.zoneinfo)) problems.push('TIMEZONE_INVALID');
  let phone: string | null | undefined;
  if (fields.phone_number === null || fields.phone_number === '') phone = null;
  else if (fields.phone_number !== undefined) {
    // The API takes E.164 (+819012345678): no country to guess from.
    const parsed = parsePhone(fields.phone_number, '', false);
    if ('problem' in parsed) problems.push(parsed.problem);
    else phone = parsed.e164;
  }
  return { problems, ...(phone !== undefined ? { phone } : {}) };
}

/** What `user create` does: the password policy applies; active with a verified address unless pending. */
export async function createUser(services: UserServices, input: NewUser, by: Actor): Promise<UserView> {
  const checked = profileProblems(input);
  if (checked.problems.length) throw new FormError(checked.problems);
  const pending = input.status === 'pending';
  const id = await services.db.transaction().execute(async (trx) => {
    const account = await createAccount(trx, services.hasher, services.policy, {
      email: input.email,
      password: input.password,
      givenName: input.given_name,
      familyName: input.family_name,
      locale: input.locale ?? 'ja',
      status: pending ? 'pending' : 'active',
      emailVerified: !pending,
    });
    if (input.zoneinfo || checked.phone)
      await trx
        .updateTable('accounts')
        .set({ zoneinfo: input.zoneinfo ?? null, phone_number: checked.phone ?? null })
        .where('id', '=', account.id)
        .execute();
    await recordAudit(trx, { type: 'admin.user.created', accountId: account.id, actor: by.actor }, by.meta);
    return account.id;
  });
  return getUser(services, id);
}

export interface UserChange {
  given_name?: string | undefined;
  family_name?: string | undefined;
  locale?: 'ja' | 'en' | undefined;
  zoneinfo?: string | null | undefined;
  phone_number?: string | null | undefined;
  require_phishing_resistant?: boolean | undefined;
}

/**
 * Profile fields, and the company policy that requires a passkey or security key (a session
 * made without one logs in again at the next authorization: src/oidc/provider.ts); a new phone number is not verified until its owner confirms it by SMS. */
export async function updateUser(services: UserServices, id: string, change: UserChange, by: Actor): Promise<UserView> {
  const current = await getUser(services, id);
  const checked = profileProblems(change);
  if (checked.problems.length) throw new FormError(checked.problems);
  const fields = Object.keys(change).sort();
  await services.db.transaction().execute(async (trx) => {
    await trx
      .updateTable('accounts')
      .set({
        ...(change.given_name !== undefined ? { given_name: change.given_name.trim() } : {}),
        ...(change.family_name !== undefined ? { family_name: change.family_name.trim() } : {}),
        ...(change.locale !== undefined ? { locale: change.locale } : {}),
        ...(change.zoneinfo !== undefined ? { zoneinfo: change.zoneinfo } : {}),
        ...(change.require_phishing_resistant !== undefined
          ? { require_phishing_resistant: change.require_phishing_resistant }
          : {}),
        ...(checked.phone !== undefined && checked.phone !== current.phone_number
          ? { phone_number: checked.phone, phone_number_verified: false }
          : {}),
        updated_at: new Date(),
      })
      .where('id', '=', id)
      .execute();
    await recordAudit(
      trx,
      { type: 'admin.user.updated', accountId: id, actor: by.actor, details: { fields } },
      by.meta,
    );
  });
  return getUser(services, id);
}

/** disable / enable / hold / release: setAccountStatus, with its revocations and audit event. */
export async function changeUserStatus(
  services: UserServices,
  id: string,
  status: SettableStatus,
  by: Actor & { reason?: string | undefined },
): Promise<UserView> {
  if (!isUuid(id)) throw new AppError('NOT_FOUND');
  await setAccountStatus(
    { db: services.db, revoker: services.revoker },
    id,
    { status, by: by.actor, reason: by.reason },
    by.meta,
  );
  return getUser(services, id);
}

export async function unlockUser(services: UserServices, id: string, by: Actor): Promise<UserView> {
  await getUser(services, id);
  await unlockAccount(services, id, by.actor, by.meta);
  return getUser(services, id);
}

export async function resetUserMfa(services: UserServices, id: string, by: Actor): Promise<UserView> {
  if (!isUuid(id)) throw new AppError('NOT_FOUND');
  await removeMfaByAdmin(services, id, by.actor, by.meta);
  return getUser(services, id);
}

/** Ends every session and revokes every app's grant and tokens of the account. */
export async function revokeUserSessions(services: UserServices, id: string, by: Actor): Promise<UserView> {
  if (!(await findAccountById(services.db, id))) throw new AppError('NOT_FOUND');
  await services.db.transaction().execute(async (trx) => {
    await endAccountAccess(trx, id);
    await recordAudit(trx, { type: 'admin.user.sessions_revoked', accountId: id, actor: by.actor }, by.meta);
  });
  await services.revoker.cleanUp(id);
  return getUser(services, id);
}
