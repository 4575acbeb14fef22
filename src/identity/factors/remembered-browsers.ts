import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../../db/database.js';
import type { RequestMeta } from '../../request-meta.js';

const hashOf = (token: string) => createHash('sha256').update(token).digest('base64url');

/** Remembers this browser for the account; returns the token for its cookie (stored only hashed). */
export async function rememberBrowser(db: Db, accountId: string, days: number, meta: RequestMeta): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await db
    .insertInto('remembered_browsers')
    .values({
      account_id: accountId,
      token_hash: hashOf(token),
      user_agent: meta.userAgent ?? null,
      ip: meta.ip,
      expires_at: new Date(Date.now() + days * 86_400_000),
    })
    .execute();
  return token;
}

/** Whether the token names a browser this account remembered and has not forgotten. */
export async function isRememberedBrowser(db: Db, accountId: string, token: string | undefined): Promise<boolean> {
  if (!token) return false;
  const row = await db
    .selectFrom('remembered_browsers')
    .select('id')
    .where('token_hash', '=', hashOf(token))
    .where('account_id', '=', accountId)
    .where('expires_at', '>', new Date())
    .executeTakeFirst();
  return row !== undefined;
}

export async function listRememberedBrowsers(db: Db, accountId: string) {
  return db
    .selectFrom('remembered_browsers')
    .select(['id', 'user_agent', 'ip', 'created_at', 'expires_at'])
    .where('account_id', '=', accountId)
    .where('expires_at', '>', new Date())
    .orderBy('created_at', 'desc')
    .execute();
}

export async function forgetBrowser(db: Db, accountId: string, id: string): Promise<boolean> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return false;
  const result = await db
    .deleteFrom('remembered_browsers')
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export async function forgetAllBrowsers(db: Db, accountId: string): Promise<void> {
  await db.deleteFrom('remembered_browsers').where('account_id', '=', accountId).execute();
}

export async function sweepRememberedBrowsers(db: Db): Promise<void> {
  await db.deleteFrom('remembered_browsers').where('expires_at', '<', new Date()).execute();
}
