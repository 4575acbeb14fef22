import Provider, { type Adapter, type AdapterPayload } from 'oidc-provider';
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../../db/database.js';
import type { ConsentedAccess } from '../../db/schema.js';
import { auditCte, auditRow, takeAuditRows, type AuditEvent, type AuditRow } from '../../security/audit.js';
import { deferUntilAnswered } from './held-writes.js';
import type { RecentlyUsable } from './recently-usable.js';
import { pastAbsoluteLifetime, touchSeconds, type SessionLifetime } from '../session-lifetime.js';
import { RequestSlot } from './request-slot.js';

function expiry(expiresIn?: number): Date | null {
  return expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
}

/** What the indexing adapters read from the request oidc-provider is serving, if any. */
interface ServedRequest {
  ip?: string;
  get(header: string): string;
  oidc?: {
    client?: { clientId: string };
    result?: { login?: { accountId?: string; amr?: string[] }; consent?: unknown };
    session?: { id: string; oldId?: string; destroyed?: boolean };
  };
}

function servedRequest(): ServedRequest | undefined {
  try {
    return Provider.ctx as unknown as ServedRequest | undefined;
  } catch {
    return undefined;
  }
}

/** The request being served, when oidc-provider calls the adapter inside one. */
function requestDetails(ctx = servedRequest()): { ip: string | null; userAgent: string | null } {
  // IPv4 clients of a dual-stack socket show up as ::ffff:a.b.c.d; people know them as a.b.c.d.
  const ip = ctx?.ip?.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1') ?? null;
  return { ip, userAgent: ctx?.get('user-agent').slice(0, 512) || null };
}

/**
 * The login this request completes, as an audit row: oidc-provider's resume applies the login
 * result to the session and saves it, so the row is written with the session's index. A
 * consent's result carries the earlier login along (mergeWithLastSubmission): that one was
 * audited when it happened.
 */
function completedLogin(ctx: ServedRequest | undefined, accountId: unknown): ReturnType<typeof auditRow>[] {
  const result = ctx?.oidc?.result;
  const login = result?.login;
  if (!ctx || !login || login.accountId !== accountId || result.consent) return [];
  const event: AuditEvent = {
    type: 'login.succeeded',
    accountId: login.accountId,
    clientId: ctx.oidc?.client?.clientId ?? null,
    details: { amr: login.amr },
  };
  return [auditRow(event, requestDetails(ctx))];
}

/**
 * The sid the session gave each relying party (oidc-provider keeps them in `authorizations`):
 * the logout token sent when the session ends names the same sid as the RP's ID tokens.
 */
function logoutSids(payload: AdapterPayload): string {
  const authorizations = (payload.authorizations ?? {}) as Record<string, { sid?: string } | undefined>;
  const sids: Record<string, string> = {};
  for (const [clientId, authorization] of Object.entries(authorizations))
    if (authorization?.sid) sids[clientId] = authorization.sid;
  return JSON.stringify(sids);
}

/** Whether `id` is the old identifier of the session this request is rotating (not ending). */
function rotatedAway(id: string): boolean {
  const session = servedRequest()?.oidc?.session;
  return session?.oldId === id && session.id !== id && !session.destroyed;
}

/** What a Grant says the user allowed, as account_grants keeps it (src/oidc/remembered-consent.ts). */
function consentedAccess(payload: AdapterPayload): ConsentedAccess {
  const { scope, claims } = (payload.openid ?? {}) as { scope?: string; claims?: string[] };
  return { scope, claims, resources: payload.resources as ConsentedAccess['resources'] };
}

/** A grant's account_grants row, as jsonb_to_recordset reads it. */
interface GrantRow {
  grant_id: string;
  account_id: string;
  client_id: string;
  expires_at: Date | null;
  consented: ConsentedAccess;
}

/** Grant rows (and their audit rows) a page deferred for its session's statement to take along. */
const pendingGrants = new RequestSlot<{ rows: GrantRow[]; audits: AuditRow[] }>('monban.pendingGrants');

function takePendingGrants(ctx: object | undefined): { rows: GrantRow[]; audits: AuditRow[] } | undefined {
  const pending = ctx ? pendingGrants.get(ctx) : undefined;
  if (ctx) pendingGrants.delete(ctx);
  return pending;
}

/** `granted as (insert ...)`: the grants' index rows (a revoked row stays revoked), returning each one's state. */
function grantsCte(rows: GrantRow[]): RawBuilder<unknown> {
  return sql`granted as (
    insert into account_grants (grant_id, account_id, client_id, expires_at, consented)
    select grant_id, account_id, client_id, expires_at, consented
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      as g(grant_id text, account_id uuid, client_id text, expires_at timestamptz, consented jsonb)
    on conflict (grant_id) do update set expires_at = excluded.expires_at, consented = excluded.consented
    returning grant_id, account_id, revoked_at)`;
}

/** What each row of `granted` now says, with its account's status. */
const GRANTED_STATE = sql`select granted.grant_id, granted.account_id, granted.revoked_at, a.status
  from granted join accounts a on a.id = granted.account_id`;

/** Writes grant rows with their audit rows in one statement; remembers the usable ones. */
async function writeGrants(
  db: Db,
  usable: RecentlyUsable,
  pending: { rows: GrantRow[]; audits: AuditRow[] } | undefined,
): Promise<void> {
  if (!pending?.rows.length) return;
  const { rows } = await sql<Usability & { grant_id: string; account_id: string }>`
    with ${auditCte(pending.audits)}, ${grantsCte(pending.rows)}
    ${GRANTED_STATE}`.execute(db);
  for (const row of rows) if (isUsable(row)) usable.remember(`grant:${row.grant_id}`, row.account_id);
}

/** Passes everything through to the real adapter; subclasses add an index on top. */
abstract class DelegatingAdapter implements Adapter {
  constructor(
    protected readonly inner: Adapter,
    protected readonly db: Db,
    protected readonly usable: RecentlyUsable,
  ) {}

  abstract upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
  abstract destroy(id: string): Promise<void>;

  find(id: string) {
    return this.inner.find(id);
  }
  findByUid(uid: string) {
    return this.inner.findByUid(uid);
  }
  findByUserCode(code: string) {
    return this.inner.findByUserCode(code);
  }
  consume(id: string) {
    return this.inner.consume(id);
  }
  revokeByGrantId(grantId: string) {
    return this.inner.revokeByGrantId(grantId);
  }
}

/** Whether an index row (as written or read back) lets its session or grant be used. */
interface Usability {
  revoked_at: Date | null;
  status: string;
}
const isUsable = (row: Usability | undefined): boolean => row?.revoked_at === null && row.status === 'active';

/**
 * Wraps the Session adapter so every signed-in session is also listed in account_sessions
 * (device, IP, last seen) and can be shown and ended from the security page (PR3).
 *
 * The row also decides whether a signed-in session may be used (issue 11 items 5, 8): only
 * while it exists, does not say revoked, and its account is active. Anything else is "no
 * session": oidc-provider starts a fresh one, the login page shows (login_required with
 * prompt=none), and the console sends the browser to the login. Ending sessions marks their
 * rows in the transaction of the change (src/identity/accounts/access.ts), so a copy Redis
 * failed to delete is refused all the same.
 */
export class SessionIndexingAdapter extends DelegatingAdapter {
  constructor(
    inner: Adapter,
    db: Db,
    usable: RecentlyUsable,
    private readonly lifetime: SessionLifetime,
  ) {
    super(inner, db, usable);
  }

  /** A session read by its cookie is being used: its idle clock moves forward. */
  override async find(id: string): Promise<AdapterPayload | undefined> {
    const payload = (await this.inner.find(id)) ?? undefined;
    return (await this.#usable(id, payload, true)) ? payload : undefined;
  }

  /**
   * Looked up for something bound to it (a code or token that expires with the session, a login
   * in progress): it must still be usable, but that is not the user using it.
   */
  override async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const payload = (await this.inner.findByUid(uid)) ?? undefined;
    if (!payload?.jti) return payload;
    return (await this.#usable(payload.jti, payload, false)) ? payload : undefined;
  }

  /**
   * Not revoked, its account active, within its absolute lifetime and used within the idle time
   * (session-lifetime.ts). One statement reads all of it and, when `touch` and the last use is
   * older than touchSeconds, records this use; a session this process checked a moment ago needs
   * no statement (RecentlyUsable, which keeps it for at most a tenth of the idle time).
   */
  async #usable(id: string, payload: AdapterPayload | undefined, touch: boolean): Promise<boolean> {
    const accountId = payload?.accountId;
    if (!payload || !accountId) return payload !== undefined;
    if (pastAbsoluteLifetime(this.lifetime, payload)) return false;
    if (this.usable.has(`session:${id}`, accountId)) return true;
    const idle = this.lifetime.idleSeconds;
    const { rows } = await sql<Usability & { fresh: boolean }>`
      with touched as (
        update account_sessions set last_seen_at = now()
        where ${touch} and session_id = ${id} and account_id = ${accountId} and revoked_at is null
          and last_seen_at > now() - make_interval(secs => ${idle})
          and last_seen_at <= now() - make_interval(secs => ${touchSeconds(this.lifetime)}))
      select s.revoked_at, a.status, s.last_seen_at > now() - make_interval(secs => ${idle}) as fresh
      from account_sessions s join accounts a on a.id = s.account_id
      where s.session_id = ${id} and s.account_id = ${accountId}`.execute(this.db);
    const row = rows[0];
    if (!isUsable(row) || !row?.fresh) return false;
    this.usable.remember(`session:${id}`, accountId);
    return true;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    await this.inner.upsert(id, payload, expiresIn);
    // An anonymous visitor's session has nothing to index (and needs no statement).
    if (!payload.accountId) return;
    const ctx = servedRequest();
    const { ip, userAgent } = requestDetails(ctx);
    const grants = takePendingGrants(ctx);
    const audits = [...(grants?.audits ?? []), ...takeAuditRows(), ...completedLogin(ctx, payload.accountId)];
    const session = ctx?.oidc?.session;
    const oldId = session?.id === id && session.oldId !== id ? (session.oldId ?? null) : null;
    // One statement: the audit rows, the grants this page saved before (a login's resume), the
    // old identifier's row when the session was rotated (oidc-provider gives a session a new id
    // at every login), the index row, and whether the session (and each grant) may be used (a
    // revoked row stays revoked).
    const granted = grants?.rows.length
      ? { cte: sql`${grantsCte(grants.rows)},`, select: sql`union all ${GRANTED_STATE}` }
      : { cte: sql``, select: sql`` };
    const { rows } = await sql<Usability & { grant_id: string | null; account_id: string }>`
      with ${auditCte(audits)}, ${granted.cte}
      rotated as (delete from account_sessions where session_id = ${oldId}),
      indexed as (
        insert into account_sessions (session_id, account_id, ip, user_agent, expires_at, logout_sids)
        values (${id}, ${payload.accountId}, ${ip}, ${userAgent}, ${expiry(expiresIn)}, ${logoutSids(payload)}::jsonb)
        on conflict (session_id) do update set
          account_id = excluded.account_id,
          logout_sids = excluded.logout_sids,
          last_seen_at = now(),
          expires_at = excluded.expires_at,
          ip = coalesce(excluded.ip, account_sessions.ip),
          user_agent = coalesce(excluded.user_agent, account_sessions.user_agent)
        returning account_id, revoked_at)
      select null::text as grant_id, indexed.account_id, indexed.revoked_at, a.status
      from indexed join accounts a on a.id = indexed.account_id ${granted.select}`.execute(this.db);
    for (const row of rows) {
      if (!isUsable(row)) continue;
      if (row.grant_id === null) this.usable.remember(`session:${id}`, payload.accountId);
      else this.usable.remember(`grant:${row.grant_id}`, row.account_id);
    }
  }

  async destroy(id: string): Promise<void> {
    // A rotation: the new identifier's upsert moves the row, in its own statement. Any other
    // ending is made in PostgreSQL before Redis is asked: should Redis fail, the copy it keeps is
    // refused all the same.
    if (!rotatedAway(id)) await this.end(id);
    await this.inner.destroy(id);
  }

  /**
   * Ends a session in PostgreSQL, whatever Redis still holds of it: its row is marked revoked,
   * like every other ending, so that its relying parties get their back-channel logout notice
   * (the trigger of migration 2026_12_02_0400; a row already revoked was told already), then
   * removed, and this process stops trusting what it checked a moment ago.
   */
  async end(id: string): Promise<void> {
    this.usable.forget(`session:${id}`);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('account_sessions')
        .set({ revoked_at: sql<Date>`now()` })
        .where('session_id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
      await trx.deleteFrom('account_sessions').where('session_id', '=', id).execute();
    });
  }
}

/**
 * Wraps the Grant adapter so the apps an account has allowed can be listed and revoked. As with
 * sessions, the row decides: a grant, and so every token issued under it (at the token,
 * userinfo and introspection endpoints alike), is found only while its row exists, does not say
 * revoked, and its account is active.
 */
export class GrantIndexingAdapter extends DelegatingAdapter {
  override async find(id: string): Promise<AdapterPayload | undefined> {
    // A row this page deferred is written before it is asked for.
    const ctx = servedRequest();
    if (ctx && pendingGrants.has(ctx)) await writeGrants(this.db, this.usable, takePendingGrants(ctx));
    const payload = (await this.inner.find(id)) ?? undefined;
    const accountId = payload?.accountId;
    if (!accountId || this.usable.has(`grant:${id}`, accountId)) return payload;
    const row = await this.db
      .selectFrom('account_grants as g')
      .innerJoin('accounts as a', 'a.id', 'g.account_id')
      .select(['g.revoked_at', 'a.status'])
      .where('g.grant_id', '=', id)
      .where('g.account_id', '=', accountId)
      .executeTakeFirst();
    if (!isUsable(row)) return undefined;
    this.usable.remember(`grant:${id}`, accountId);
    return payload;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    await this.inner.upsert(id, payload, expiresIn);
    if (!payload.accountId || !payload.clientId) return;
    const row: GrantRow = {
      grant_id: id,
      account_id: payload.accountId,
      client_id: payload.clientId,
      expires_at: expiry(expiresIn),
      consented: consentedAccess(payload),
    };
    // The consent's audit row (recordAuditWith) goes in the same statement.
    const audits = takeAuditRows();
    // On a page (a login's resume saves the grant, then the session), the row waits for the
    // session's statement, which writes both; else it is written when the answer is ready.
    const ctx = servedRequest();
    const pending = ctx && pendingGrants.get(ctx);
    if (pending) {
      pending.rows.push(row);
      pending.audits.push(...audits);
      return;
    }
    if (ctx && deferUntilAnswered(() => writeGrants(this.db, this.usable, takePendingGrants(ctx)))) {
      pendingGrants.set(ctx, { rows: [row], audits });
      return;
    }
    await writeGrants(this.db, this.usable, { rows: [row], audits });
  }

  async destroy(id: string): Promise<void> {
    await this.inner.destroy(id);
    await this.db.deleteFrom('account_grants').where('grant_id', '=', id).execute();
  }
}
