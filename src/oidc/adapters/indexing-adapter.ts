import Provider, { type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Db } from '../../db/database.js';

function expiry(expiresIn?: number): Date | null {
  return expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
}

/** The request being served, when oidc-provider calls the adapter inside one. */
function requestDetails(): { ip: string | null; userAgent: string | null } {
  const ctx = (() => { try { return Provider.ctx; } catch { return undefined; } })();
  // IPv4 clients of a dual-stack socket show up as ::ffff:a.b.c.d; people know them as a.b.c.d.
  const ip = ctx?.ip?.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1') ?? null;
  return { ip, userAgent: ctx?.get('user-agent')?.slice(0, 512) || null };
}

/** Passes everything through to the real adapter; subclasses add an index on top. */
abstract class DelegatingAdapter implements Adapter {
  constructor(protected readonly inner: Adapter, protected readonly db: Db) {}

  abstract upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
  abstract destroy(id: string): Promise<void>;

  find(id: string) { return this.inner.find(id); }
  findByUid(uid: string) { return this.inner.findByUid(uid); }
  findByUserCode(code: string) { return this.inner.findByUserCode(code); }
  consume(id: string) { return this.inner.consume(id); }
  revokeByGrantId(grantId: string) { return this.inner.revokeByGrantId(grantId); }
}

/**
 * Wraps the Session adapter so every signed-in session is also listed in account_sessions
 * (device, IP, last seen) and can be shown and ended from the security page (PR3).
 */
export class SessionIndexingAdapter extends DelegatingAdapter {
  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    await this.inner.upsert(id, payload, expiresIn);
    if (!payload.accountId) {
      await this.db.deleteFrom('account_sessions').where('session_id', '=', id).execute();
      return;
    }
    const { ip, userAgent } = requestDetails();
    await this.db.insertInto('account_sessions')
      .values({ session_id: id, account_id: payload.accountId, ip, user_agent: userAgent, expires_at: expiry(expiresIn) })
      .onConflict((oc) => oc.column('session_id').doUpdateSet((eb) => ({
        account_id: eb.ref('excluded.account_id'),
        last_seen_at: new Date(),
        expires_at: eb.ref('excluded.expires_at'),
        ip: eb.fn.coalesce(eb.ref('excluded.ip'), eb.ref('account_sessions.ip')),
        user_agent: eb.fn.coalesce(eb.ref('excluded.user_agent'), eb.ref('account_sessions.user_agent')),
      })))
      .execute();
  }

  async destroy(id: string): Promise<void> {
    await this.inner.destroy(id);
    await this.db.deleteFrom('account_sessions').where('session_id', '=', id).execute();
  }
}

/** Wraps the Grant adapter so the apps an account has allowed can be listed and revoked. */
export class GrantIndexingAdapter extends DelegatingAdapter {
  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    await this.inner.upsert(id, payload, expiresIn);
    if (!payload.accountId || !payload.clientId) return;
    await this.db.insertInto('account_grants')
      .values({ grant_id: id, account_id: payload.accountId, client_id: payload.clientId, expires_at: expiry(expiresIn) })
      .onConflict((oc) => oc.column('grant_id').doUpdateSet((eb) => ({ expires_at: eb.ref('excluded.expires_at') })))
      .execute();
  }

  async destroy(id: string): Promise<void> {
    await this.inner.destroy(id);
    await this.db.deleteFrom('account_grants').where('grant_id', '=', id).execute();
  }
}
