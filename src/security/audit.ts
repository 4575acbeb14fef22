import { AsyncLocalStorage } from 'node:async_hooks';
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../db/database.js';
import { securityEvents } from '../observability/metrics.js';
import type { RequestMeta } from '../request-meta.js';

/** Security events (X3). Details never hold passwords, codes or secrets. */
export type AuditType =
  | 'login.succeeded'
  | 'login.failed'
  | 'login.throttled'
  | 'login.refused'
  | 'account.activated'
  | 'account.locked'
  | 'account.unlocked'
  | 'account.disabled'
  | 'account.enabled'
  | 'account.held'
  | 'account.released'
  | 'account.email_change_started'
  | 'account.email_change_resent'
  | 'account.email_changed'
  | 'support_case.opened'
  | 'support_case.approved'
  | 'support_case.rejected'
  | 'reauth.failed'
  | 'profile.updated'
  | 'password.changed'
  | 'password.reset'
  | 'email.looked_up'
  | 'code.failed'
  | 'code.throttled'
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
  | 'passkey.added'
  | 'passkey.renamed'
  | 'passkey.removed'
  | 'passkey.failed'
  | 'passkey.throttled'
  | 'passkey.counter_regression'
  | 'preferences.updated'
  | 'consent.granted'
  | 'logout'
  | 'admin.client.created'
  | 'admin.client.updated'
  | 'admin.client.secret_rotated'
  | 'admin.client.deleted'
  | 'admin.resource_server.created'
  | 'admin.resource_server.updated'
  | 'admin.resource_server.deleted'
  | 'admin.user.created'
  | 'admin.user.updated'
  | 'admin.user.mfa_removed'
  | 'admin.user.sessions_revoked'
  | 'admin.keys.rotated'
  | 'company.created'
  | 'company.updated'
  | 'company.domain_added'
  | 'company.domain_removed'
  | 'company.domain_verified'
  | 'company.domain_verification_failed'
  | 'company.domain_updated'
  | 'company.member_added'
  | 'company.member_removed'
  | 'company.role_changed'
  | 'company.invited'
  | 'company.invitation_resent'
  | 'company.invitation_revoked'
  | 'company.invitation_accepted'
  | 'company.rename_started'
  | 'company.rename_finished'
  | 'admin.secrets.resealed';

export interface AuditEvent {
  type: AuditType;
  accountId?: string | null;
  clientId?: string | null;
  /** Who did it: an admin client's client_id for the admin API, 'cli' for the command line. */
  actor?: string | null;
  details?: Record<string, unknown>;
  /** The company the event belongs to, for its admins' audit page. */
  companyId?: string | null;
}

/** The row an event becomes; `ip` and `userAgent` are the request's. */
export function auditRow(event: AuditEvent, request?: { ip?: string | null; userAgent?: string | null }) {
  securityEvents.inc({ type: event.type });
  return {
    type: event.type,
    account_id: event.accountId ?? null,
    client_id: event.clientId ?? null,
    actor: event.actor ?? null,
    company_id: event.companyId ?? null,
    ip: request?.ip ?? null,
    user_agent: request?.userAgent?.slice(0, 512) || null,
    details: JSON.stringify(event.details ?? {}),
  };
}

export type AuditRow = ReturnType<typeof auditRow>;

export async function recordAudit(db: Db, event: AuditEvent, meta?: RequestMeta): Promise<void> {
  await db.insertInto('audit_events').values(auditRow(event, meta)).execute();
}

const alongside = new AsyncLocalStorage<{ rows: AuditRow[] }>();

/**
 * Records `event` in the same statement as the index write `work` makes (a session or grant
 * saved through the indexing adapters takes it with takeAuditRows), so the change and its
 * audit row cost one round trip; if `work` wrote nothing, the row is written after it.
 */
export async function recordAuditWith<T>(
  db: Db,
  event: AuditEvent,
  meta: RequestMeta,
  work: () => Promise<T>,
): Promise<T> {
  const pending = { rows: [auditRow(event, meta)] };
  const result = await alongside.run(pending, work);
  if (pending.rows.length > 0) await db.insertInto('audit_events').values(pending.rows).execute();
  return result;
}

/**
 * A data-modifying CTE (`audit as (insert ...)`) that writes `rows` within another statement;
 * with no rows it inserts nothing.
 */
export function auditCte(rows: AuditRow[]): RawBuilder<unknown> {
  return sql`audit as (
    insert into audit_events (type, account_id, client_id, actor, company_id, ip, user_agent, details)
    select type, account_id, client_id, actor, company_id, ip, user_agent, coalesce(details, '{}'::jsonb)
    from jsonb_to_recordset(${JSON.stringify(rows.map((row) => ({ ...row, details: JSON.parse(row.details) as unknown })))}::jsonb)
      as a(type text, account_id uuid, client_id text, actor text, company_id uuid, ip text, user_agent text, details jsonb))`;
}

/** The audit rows waiting to be written with the current write (see recordAuditWith); they are now the caller's. */
export function takeAuditRows(): AuditRow[] {
  const pending = alongside.getStore();
  if (!pending) return [];
  const rows = pending.rows;
  pending.rows = [];
  return rows;
}
