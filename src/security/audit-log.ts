import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { isUuid } from '../db/uuid.js';

/**
 * Gives waiting audit events their position in the log (`seq`). An event's bigserial id is taken
 * at insert but becomes visible at commit, so ids appear out of order; a reader paging by id
 * would pass over a late commit. Only events whose transaction is older than every transaction
 * still running (tx below the snapshot's xmin) are given a seq, in (tx, id) order: no event can
 * ever appear before one that already has a seq. Sequencers take turns on an advisory lock.
 */
export async function sequenceAuditEvents(db: Db, batch = 5000): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('monban:audit_events:seq'))`.execute(trx);
    // A new statement, so a new snapshot: it sees what the previous sequencer committed.
    await sql`
      with top as (select coalesce(max(seq), 0) as seq from audit_events),
      ready as (
        select id, row_number() over (order by tx, id) as n
        from audit_events
        where seq is null and tx < pg_snapshot_xmin(pg_current_snapshot())
        order by tx, id
        limit ${batch}
      )
      update audit_events set seq = top.seq + ready.n
      from ready, top
      where audit_events.id = ready.id`.execute(trx);
  });
}

export interface AuditQuery {
  /** The `id` (seq) of the last event seen. */
  after?: number | undefined;
  /** Only events before this id (paging back from the newest). */
  before?: number | undefined;
  /** 'desc': the newest first (what `audit tail` shows); the log's order otherwise. */
  order?: 'asc' | 'desc' | undefined;
  limit: number;
  type?: string | undefined;
  account?: string | undefined;
  actor?: string | undefined;
  ip?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

/** An audit event as the admin API shows it. */
export interface AuditEventView {
  id: number;
  type: string;
  at: string;
  actor: string | null;
  account: string | null;
  ip: string | null;
  data: Record<string, unknown>;
}

/**
 * Events in the order of the log, after a cursor: polling with the last id never skips or repeats
 * one. With order 'desc', the newest first, paged back with `before`.
 */
export async function queryAuditEvents(db: Db, query: AuditQuery): Promise<AuditEventView[]> {
  if (query.account !== undefined && !isUuid(query.account)) return [];
  await sequenceAuditEvents(db);
  let select = db
    .selectFrom('audit_events')
    .select(['seq', 'type', 'at', 'actor', 'account_id', 'client_id', 'ip', 'details'])
    .where('seq', 'is not', null)
    .orderBy('seq', query.order ?? 'asc')
    .limit(query.limit);
  if (query.after !== undefined) select = select.where('seq', '>', String(query.after));
  if (query.before !== undefined) select = select.where('seq', '<', String(query.before));
  if (query.type) select = select.where('type', '=', query.type);
  if (query.account) select = select.where('account_id', '=', query.account);
  if (query.actor) select = select.where('actor', '=', query.actor);
  if (query.ip) select = select.where('ip', '=', query.ip);
  if (query.since) select = select.where('at', '>=', query.since);
  if (query.until) select = select.where('at', '<', query.until);
  const rows = await select.execute();
  return rows.map((row) => ({
    id: Number(row.seq),
    type: row.type,
    at: row.at.toISOString(),
    actor: row.actor,
    account: row.account_id,
    ip: row.ip,
    data: { ...row.details, ...(row.client_id ? { client_id: row.client_id } : {}) },
  }));
}
