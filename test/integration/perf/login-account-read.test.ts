/**
 * Issue 16: a login's account read costs the same whatever the account's history. One grant is
 * written per login; what the account last allowed the app must be found without reading every
 * grant it ever gave that app (a regular user's login got dearer with each login before).
 */
import { CompiledQuery, sql } from 'kysely';
import type { Db } from '../../../src/db/database.js';
import { findAccountForLogin } from '../../../src/identity/accounts/repository.js';
import { newAccountRow, scratchStorageForSuite, STORAGE_KINDS } from '../../helpers/databases.js';

const GRANTS = 3_000;

/** The database, with the statements it is sent kept (the statement is built inside the repository). */
function recording(db: Db): { db: Db; sent: CompiledQuery[] } {
  const sent: CompiledQuery[] = [];
  const proxy = new Proxy(db, {
    get(target, property) {
      if (property === 'executeQuery')
        return (query: CompiledQuery) => {
          sent.push(query);
          return target.executeQuery(query);
        };
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { db: proxy, sent };
}

interface PlanNode {
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/** Rows of `relation` the plan's scans read (returned or filtered out), over all their loops. */
function rowsRead(node: PlanNode, relation: string): number {
  const own =
    node['Relation Name'] === relation
      ? ((node['Actual Rows'] ?? 0) +
          (node['Rows Removed by Filter'] ?? 0) +
          (node['Rows Removed by Index Recheck'] ?? 0)) *
        (node['Actual Loops'] ?? 1)
      : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + rowsRead(child, relation), 0);
}

describe.each(STORAGE_KINDS)('the login account read (%s)', (kind) => {
  const storage = scratchStorageForSuite(kind);

  it('finds what the account last allowed the app by reading one grant, not all it gave', async () => {
    const { db } = storage;
    const { id: accountId, email } = await newAccountRow(db);
    // A login a day for years to the same app, the newest grant last: the newest revoked, the one
    // before it from before consents were kept (and others of both kinds), and as many grants to
    // another app.
    await sql`
      insert into account_grants (grant_id, account_id, client_id, created_at, expires_at, consented, revoked_at)
      select 'g' || i || c, ${accountId}::uuid, c, now() - (${GRANTS} - i) * interval '1 minute',
        now() + interval '14 days',
        case when i % 7 = 0 or i = ${GRANTS - 1} then null else jsonb_build_object('scope', 'openid ' || c || ' ' || i) end,
        case when i % 11 = 0 or i = ${GRANTS} then now() else null end
      from generate_series(1, ${GRANTS}) i, (values ('app'), ('other-app')) apps(c)
    `.execute(db);
    await sql`analyze account_grants`.execute(db);

    const { db: watched, sent } = recording(db);
    const account = await findAccountForLogin(watched, email, 'app');
    // The newest grant to the app that is neither revoked nor without a consent.
    expect(account?.last_consent).toEqual({ scope: `openid app ${GRANTS - 2}` });
    expect(sent).toHaveLength(1);

    const [read] = sent;
    const { rows } = await db.executeQuery<{ 'QUERY PLAN': unknown }>(
      CompiledQuery.raw(`explain (analyze, format json) ${read!.sql}`, [...read!.parameters]),
    );
    const plan = rows[0]!['QUERY PLAN'];
    const [top] = (typeof plan === 'string' ? JSON.parse(plan) : plan) as [{ Plan: PlanNode }];
    expect(rowsRead(top.Plan, 'account_grants')).toBeLessThanOrEqual(3);
  });
});
