import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';
import { sequenceAuditEvents } from '../../src/security/audit-log.js';

/**
 * Waits until every audit event written so far has its place in the log. An event is placed once
 * every transaction older than it has ended, and on a shared PostgreSQL server another suite's open
 * transaction (in any database) can hold that back for a moment.
 */
export async function auditLogCaughtUp(db: Db, timeoutMs = 20_000): Promise<void> {
  const { top } = await sql<{ top: string | null }>`select max(id) as top from audit_events`
    .execute(db)
    .then((r) => r.rows[0]!);
  if (top === null) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await sequenceAuditEvents(db);
    const { waiting } = await sql<{ waiting: number }>`
      select count(*)::int as waiting from audit_events where seq is null and id <= ${top}`
      .execute(db)
      .then((r) => r.rows[0]!);
    if (waiting === 0) return;
    if (Date.now() > deadline) throw new Error(`${waiting} audit events still unplaced after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
