import type { Db } from '../db/database.js';
import { AppError } from '../errors.js';
import { findAccountByEmail, findAccountById } from '../identity/accounts/repository.js';
import { isUuid } from '../db/uuid.js';

/** An account named by its id or its email address (the CLI and the API take either). */
export async function accountIdOf(db: Db, idOrEmail: string): Promise<string> {
  const account = isUuid(idOrEmail)
    ? await findAccountById(db, idOrEmail)
    : idOrEmail.includes('@')
      ? await findAccountByEmail(db, idOrEmail)
      : undefined;
  if (!account) throw new AppError('ACCOUNT_NOT_FOUND', {}, { cause: idOrEmail });
  return account.id;
}

export async function accountIdsOf(db: Db, list: string[] | undefined): Promise<string[] | undefined> {
  if (!list) return undefined;
  const ids: string[] = [];
  for (const item of list) ids.push(await accountIdOf(db, item));
  return ids;
}
