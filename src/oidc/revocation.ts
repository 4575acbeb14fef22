import { sql } from 'kysely';
import type { Adapter } from 'oidc-provider';
import type { Db } from '../db/database.js';
import { forgetAllBrowsers } from '../identity/factors/remembered-browsers.js';

// The models that hang off a grant (oidc-provider's own revoke helper uses the same list).
const GRANT_MODELS = ['AccessToken', 'RefreshToken', 'AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest'];

/**
 * Ends sessions and revokes grants of an account through the same adapters oidc-provider uses,
 * so it works the same on Redis and on PostgreSQL and every process sees it at once.
 */
export class AccountRevoker {
  constructor(private readonly db: Db, private readonly adapter: (model: string) => Adapter) {}

  async #revokeGrant(grantId: string): Promise<void> {
    await Promise.all(GRANT_MODELS.map((model) => this.adapter(model).revokeByGrantId(grantId)));
    await this.adapter('Grant').destroy(grantId);
  }

  /** PR4: after a password change or reset, every session and every token of the account ends. */
  async revokeEverything(accountId: string): Promise<{ sessions: number; grants: number }> {
    const [sessions, grants] = await Promise.all([
      this.db.selectFrom('account_sessions').select('session_id').where('account_id', '=', accountId).execute(),
      this.db.selectFrom('account_grants').select('grant_id').where('account_id', '=', accountId).execute(),
    ]);
    for (const { grant_id: grantId } of grants) await this.#revokeGrant(grantId);
    for (const { session_id: sessionId } of sessions) await this.adapter('Session').destroy(sessionId);
    // A browser remembered for MFA must pass the second factor again, too.
    await forgetAllBrowsers(this.db, accountId);
    return { sessions: sessions.length, grants: grants.length };
  }

  /** Ends one session of the account; false if it is not theirs or already gone. */
  async endSession(accountId: string, sessionId: string): Promise<boolean> {
    const row = await this.db.selectFrom('account_sessions').select('session_id')
      .where('account_id', '=', accountId).where('session_id', '=', sessionId).executeTakeFirst();
    if (!row) return false;
    await this.adapter('Session').destroy(sessionId);
    return true;
  }

  /** Revokes everything one app holds for the account; the app must ask for consent again. */
  async revokeClient(accountId: string, clientId: string): Promise<number> {
    const grants = await this.db.selectFrom('account_grants').select('grant_id')
      .where('account_id', '=', accountId).where('client_id', '=', clientId).execute();
    for (const { grant_id: grantId } of grants) await this.#revokeGrant(grantId);
    // Sessions still name the destroyed grant; oidc-provider finds it gone and asks for consent again.
    return grants.length;
  }
}

export async function sweepAccountIndexes(db: Db): Promise<void> {
  await db.deleteFrom('account_sessions').where('expires_at', '<', sql<Date>`now()`).execute();
  await db.deleteFrom('account_grants').where('expires_at', '<', sql<Date>`now()`).execute();
}
