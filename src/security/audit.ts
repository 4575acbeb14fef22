import type { Context } from 'koa';
import type { Db } from '../db/database.js';

/** Security events (X3). Details never hold passwords, codes or secrets. */
export type AuditType =
  | 'login.succeeded'
  | 'login.failed'
  | 'login.throttled'
  | 'login.refused'
  | 'account.activated'
  | 'reauth.failed'
  | 'profile.updated'
  | 'password.changed'
  | 'password.reset'
  | 'email.looked_up'
  | 'phone.added'
  | 'phone.removed'
  | 'session.ended'
  | 'app.revoked'
  | 'mfa.enabled'
  | 'mfa.disabled'
  | 'mfa.recovery_codes_renewed'
  | 'mfa.failed'
  | 'mfa.throttled'
  | 'mfa.browser_forgotten'
  | 'preferences.updated'
  | 'consent.granted'
  | 'logout'
  | 'admin.client.created'
  | 'admin.client.deleted'
  | 'admin.user.created'
  | 'admin.keys.rotated';

export interface AuditEvent {
  type: AuditType;
  accountId?: string | null;
  clientId?: string | null;
  details?: Record<string, unknown>;
}

export async function recordAudit(db: Db, event: AuditEvent, ctx?: Context): Promise<void> {
  await db.insertInto('audit_events').values({
    type: event.type,
    account_id: event.accountId ?? null,
    client_id: event.clientId ?? null,
    ip: ctx?.ip ?? null,
    user_agent: ctx?.get('user-agent')?.slice(0, 512) || null,
    details: JSON.stringify(event.details ?? {}),
  }).execute();
}
