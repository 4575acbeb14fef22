import { sql } from 'kysely';
import type { Adapter } from 'oidc-provider';
import type { Db } from '../db/database.js';
import { endAccountAccess, endOneSession, revokeAppAccess } from '../identity/accounts/access.js';
import type { ChangeFeed } from '../events/change-feed.js';
import type { Logger } from '../logger.js';
import type { RecentlyUsable } from './adapters/recently-usable.js';

// The models that hang off a grant (oidc-provider's own revoke helper uses the same list).
const GRANT_MODELS = [
  'AccessToken',
  'RefreshToken',
  'AuthorizationCode',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
];

/**
 * Deletes ended sessions and revoked grants (with their tokens) from oidc-provider's storage,
 * through the same adapters oidc-provider uses, so it works the same on Redis and on PostgreSQL.
 * Ending them is endAccountAccess's, in the transaction of the change: this only tidies up after
 * it, and a failure here (Redis down or refusing writes) leaves nothing usable behind.
 */
export class AccountRevoker {
  constructor(
    private readonly db: Db,
    private readonly adapter: (model: string) => Adapter,
    private readonly after: { logger: Logger; usable: RecentlyUsable; changes: ChangeFeed },
  ) {}

  async #revokeGrant(grantId: string): Promise<void> {
    await Promise.all(GRANT_MODELS.map((model) => this.adapter(model).revokeByGrantId(grantId)));
    await this.adapter('Grant').destroy(grantId);
  }

  /**
   * Removes what endAccountAccess (or endSession, revokeClient) ended for the account. Never
   * throws: the rows keep what is left unusable, and the next clean-up or the sweeper takes it.
   */
  async cleanUp(accountId: string): Promise<void> {
    // No process may go on trusting what it checked of this account's sessions and grants.
    this.after.usable.forgetAccount(accountId);
    try {
      await this.after.changes.publish('access', accountId);
    } catch (err) {
      this.after.logger.warn({ err, accountId }, 'other processes learn of the ended access within seconds');
    }
    try {
      const [sessions, grants] = await Promise.all([
        this.db
          .selectFrom('account_sessions')
          .select('session_id')
          .where('account_id', '=', accountId)
          .where('revoked_at', 'is not', null)
          .execute(),
        this.db
          .selectFrom('account_grants')
          .select('grant_id')
          .where('account_id', '=', accountId)
          .where('revoked_at', 'is not', null)
          .execute(),
      ]);
      for (const { grant_id: grantId } of grants) await this.#revokeGrant(grantId);
      for (const { session_id: sessionId } of sessions) await this.adapter('Session').destroy(sessionId);
    } catch (err) {
      this.after.logger.warn(
        { err, accountId },
        'ended sessions and grants are left in storage (their rows say revoked)',
      );
    }
  }

  /** Ends one session of the account; false if it is not theirs or already gone. */
  async endSession(accountId: string, sessionId: string): Promise<boolean> {
    if (!(await endOneSession(this.db, accountId, sessionId))) return false;
    await this.cleanUp(accountId);
    return true;
  }

  /** Ends every session of the account but `keepSession` ("sign out everywhere else"); apps keep their tokens. */
  async endOtherSessions(accountId: string, keepSession: string): Promise<void> {
    await endAccountAccess(this.db, accountId, { keepSession, sessionsOnly: true });
    await this.cleanUp(accountId);
  }

  /** Revokes everything one app holds for the account; the app must ask for consent again. */
  async revokeClient(accountId: string, clientId: string): Promise<number> {
    const revoked = await revokeAppAccess(this.db, accountId, clientId);
    // Sessions still name the destroyed grant; oidc-provider finds it gone and asks for consent again.
    await this.cleanUp(accountId);
    return revoked;
  }
}

/**
 * Reclaims the index rows of ended sessions and grants. A signed-in session that simply ran out
 * (its absolute lifetime, or `idleSeconds` unused) is first marked ended, which queues its
 * relying parties' back-channel logout notices like any other end (OIDC Back-Channel Logout 1.0
 * section 2.7 asks for them when the OP ends a session); the sweep is how such an end is noticed,
 * so they go out within a sweep interval. `revoked_at is null` makes each session's notices go
 * out once, however many processes sweep.
 */
export async function sweepAccountIndexes(db: Db, idleSeconds: number): Promise<void> {
  await db
    .updateTable('account_sessions')
    .set({ revoked_at: sql<Date>`now()` })
    .where('revoked_at', 'is', null)
    .where(sql<boolean>`logout_sids <> '{}'::jsonb`)
    .where((eb) =>
      eb.or([
        eb('expires_at', '<', sql<Date>`now()`),
        eb('last_seen_at', '<', sql<Date>`now() - make_interval(secs => ${idleSeconds})`),
      ]),
    )
    .execute();
  await db
    .deleteFrom('account_sessions')
    .where('expires_at', '<', sql<Date>`now()`)
    .execute();
  await db
    .deleteFrom('account_grants')
    .where('expires_at', '<', sql<Date>`now()`)
    .execute();
}
