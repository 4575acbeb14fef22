import type { Db } from '../../db/database.js';
import { isUniqueViolation } from '../../db/unique-violation.js';
import type { AccountRow, AccountStatus } from '../../db/schema.js';
import type { PasswordHasher } from '../password/hashing.js';
import { AppError, FormError } from '../../errors.js';
import type { PasswordPolicy } from '../password/policy.js';
import { newAccountId } from './account-id.js';
import { emailProblem, normalizeEmail } from './email.js';
import { findAccountByEmail, insertAccount } from './repository.js';

export interface NewAccountInput {
  email: string;
  password: string;
  givenName: string;
  familyName: string;
  locale?: 'ja' | 'en';
  country?: string | null;
  status?: AccountStatus;
  emailVerified?: boolean;
}

/** Creates an account with a password the policy accepts and a fresh human account ID. */
export async function createAccount(
  db: Db,
  hasher: PasswordHasher,
  policy: PasswordPolicy,
  input: NewAccountInput,
): Promise<AccountRow> {
  const emailIssue = emailProblem(input.email);
  if (emailIssue) throw new AppError(emailIssue);
  const email = normalizeEmail(input.email);
  if (!input.givenName.trim() || !input.familyName.trim()) throw new AppError('NAME_REQUIRED');
  const problems = await policy.problems(input.password, { email });
  if (problems.length > 0) throw new FormError(problems);
  if (await findAccountByEmail(db, email)) throw new AppError('EMAIL_TAKEN');

  const passwordHash = await hasher.hash(input.password);
  const now = new Date();
  // A clash of random account IDs is rare; retry a few times rather than fail the sign-up.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    try {
      return await insertAccount(db, {
        username: newAccountId(),
        email,
        email_verified: input.emailVerified ?? false,
        password_hash: passwordHash,
        given_name: input.givenName.trim(),
        family_name: input.familyName.trim(),
        country: input.country ?? null,
        locale: input.locale ?? 'ja',
        status: input.status ?? 'pending',
        // Null until the first change: the minimum age counts from a change, not from the sign-up.
        password_changed_at: null,
        updated_at: now,
      });
    } catch (err) {
      if (isUniqueViolation(err, 'accounts_email_key')) throw new AppError('EMAIL_TAKEN');
      if (!isUniqueViolation(err, 'accounts_username_key')) throw err;
    }
  }
  throw new Error('could not allocate a unique account ID');
}
