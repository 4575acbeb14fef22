import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { AdminApiClient, registerAdminClient } from '../../helpers/admin-api.js';
import { registerUser } from '../../helpers/fixtures.js';
import { auditLogCaughtUp } from '../../helpers/audit.js';

interface AuditEvent {
  id: number;
  type: string;
  at: string;
  actor: string | null;
  account: string | null;
  ip: string | null;
  data: Record<string, unknown>;
}
interface Feed {
  items: AuditEvent[];
  next: number | null;
}

describe('admin API: audit events and keys', () => {
  let t: TestApp;
  let api: AdminApiClient;
  let admin: { client_id: string; client_secret: string };

  beforeAll(async () => {
    t = await startTestApp({ mode: 'server' });
    admin = await registerAdminClient(t.app);
    api = new AdminApiClient(t.issuer);
    await api.loadDocument();
    await api.authenticate(admin);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** The id of the newest event the API shows now: where a poller starting now begins. */
  async function head(): Promise<number> {
    let after = 0;
    for (;;) {
      const res = await api.call<Feed>('GET', `/audit-events?limit=200&after=${after}`);
      if (res.body.items.length === 0) return after;
      after = res.body.next!;
    }
  }

  it('never shows an event before one that commits later with a smaller id', async () => {
    const start = await head();
    const type = `test.late.${randomBytes(3).toString('hex')}`;
    const slow = new pg.Client({ connectionString: t.app.config.databaseUrl });
    await slow.connect();
    try {
      await slow.query('begin');
      await slow.query('insert into audit_events (type, details) values ($1, \'{"n": 0}\')', [type]);
      // Committed while the first is still open: its id is larger, its transaction younger.
      await sql`insert into audit_events (type, details) values (${type}, '{"n": 1}')`.execute(t.app.db);
      const early = await api.call<Feed>('GET', `/audit-events?after=${start}&type=${type}`);
      expect(early.body.items).toEqual([]);
      expect(early.body.next).toBe(start);
      await slow.query('commit');
    } finally {
      await slow.end();
    }
    // Both appear once every transaction older than them has ended; on a shared database another
    // suite's open transaction may hold them back a moment, and they still come in this order.
    let later = await api.call<Feed>('GET', `/audit-events?after=${start}&type=${type}`);
    for (let i = 0; i < 100 && later.body.items.length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      later = await api.call<Feed>('GET', `/audit-events?after=${start}&type=${type}`);
    }
    expect(later.body.items.map((e) => e.data.n)).toEqual([0, 1]);
    expect(later.body.items[1]!.id).toBeGreaterThan(later.body.items[0]!.id);
  });

  it('pages through 450 events written concurrently with no gap and no repeat', async () => {
    const type = `test.concurrent.${randomBytes(3).toString('hex')}`;
    let after = await head();
    const writers = Array.from({ length: 15 }, (_, w) =>
      (async () => {
        for (let i = 0; i < 30; i++) {
          const n = w * 30 + i;
          // Transactions that stay open a random moment commit out of id order.
          await t.app.db.transaction().execute(async (trx) => {
            await sql`insert into audit_events (type, details) values (${type}, jsonb_build_object('n', ${n}::int))`.execute(
              trx,
            );
            await sql`select pg_sleep(${Math.random() * 0.02})`.execute(trx);
          });
        }
      })(),
    );
    let writing = true;
    const done = Promise.all(writers).finally(() => {
      writing = false;
    });
    const ids: number[] = [];
    const seen: number[] = [];
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const stillWriting = writing;
      const res = await api.call<Feed>('GET', `/audit-events?limit=200&after=${after}`);
      expect(res.status).toBe(200);
      for (const event of res.body.items) {
        ids.push(event.id);
        if (event.type === type) seen.push(event.data.n as number);
      }
      if (res.body.items.length > 0) expect(res.headers.get('link')).toContain(`after=${res.body.next}`);
      after = res.body.next ?? after;
      if (!stillWriting && seen.length >= 450 && res.body.items.length === 0) break;
    }
    await done;
    // Ids strictly increase over every page: nothing repeated, nothing out of order.
    for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]!);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 450 }, (_, n) => n));
  }, 180_000);

  it('filters by type, account, actor, ip and time; limit is at most 200', async () => {
    const user = await registerUser(t.app);
    const created = await api.call<{ client_id: string }>('POST', '/clients', {
      body: { client_name: 'Audited', grant_types: ['client_credentials'] },
    });
    await api.call('POST', `/users/${user.id}/hold`, { body: { reason: 'kyc' } });
    await auditLogCaughtUp(t.app.db);
    const byActor = await api.call<Feed>('GET', `/audit-events?actor=${admin.client_id}&limit=200`);
    expect(byActor.body.items.every((e) => e.actor === admin.client_id)).toBe(true);
    const created_ = byActor.body.items.find((e) => e.type === 'admin.client.created');
    expect(created_).toMatchObject({
      actor: admin.client_id,
      account: null,
      data: { client_id: created.body.client_id },
    });
    expect(created_!.ip).toMatch(/127\.0\.0\.1|::1/);

    const byAccount = await api.call<Feed>('GET', `/audit-events?account=${user.id}`);
    expect(byAccount.body.items.map((e) => [e.type, e.actor])).toEqual([['account.held', admin.client_id]]);
    expect(byAccount.body.items[0]!.data).toMatchObject({ from: 'active', to: 'on_hold', reason: 'kyc' });

    const byType = await api.call<Feed>('GET', '/audit-events?type=account.held&limit=200');
    expect(byType.body.items.map((e) => e.account)).toContain(user.id);
    expect(byType.body.items.every((e) => e.type === 'account.held')).toBe(true);

    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await api.call<Feed>('GET', `/audit-events?since=${future}`)).body.items).toEqual([]);
    const past = await api.call<Feed>('GET', `/audit-events?account=${user.id}&until=${encodeURIComponent(future)}`);
    expect(past.body.items).toHaveLength(1);
    const byIp = await api.call<Feed>('GET', `/audit-events?ip=${encodeURIComponent(created_!.ip!)}&limit=5`);
    expect(byIp.body.items.every((e) => e.ip === created_!.ip)).toBe(true);

    expect((await api.call('GET', '/audit-events?limit=201')).status).toBe(400);
    expect((await api.call('GET', '/audit-events?since=yesterday')).status).toBe(400);
  });

  it('rotates the signing keys, audited; needs admin:keys.write', async () => {
    const before = await t.app.db
      .selectFrom('server_keys')
      .select(['kid', 'state'])
      .where('use', '=', 'signing')
      .execute();
    const staged = before.find((k) => k.state === 'staged')!.kid;
    const res = await api.call<{ active: string; staged: string; retired: string[] }>('POST', '/keys/rotate');
    expect(res.status).toBe(200);
    expect(res.body.active).toBe(staged);
    expect(res.body.retired).toContain(before.find((k) => k.state === 'active')!.kid);
    // The event is in the log once every transaction older than it has ended (any database's).
    await auditLogCaughtUp(t.app.db);
    const events = await api.call<Feed>('GET', '/audit-events?type=admin.keys.rotated');
    expect(events.body.items.map((e) => e.actor)).toEqual([admin.client_id]);

    const reader = new AdminApiClient(t.issuer);
    await reader.authenticate(admin, ['admin:audit.read']);
    expect((await reader.call<{ code: string }>('POST', '/keys/rotate')).body.code).toBe('INSUFFICIENT_SCOPE');
    for (const success of api.documentedSuccesses().filter((s) => /audit|keys/.test(s)))
      expect(api.seen).toContain(success);
  });

  it('the OpenAPI document lists every operation of the API', async () => {
    const doc = (await (await fetch(`${t.issuer}/admin/api/v1/openapi.json`)).json()) as {
      paths: Record<string, object>;
    };
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/audit-events',
        '/clients',
        '/clients/{client_id}',
        '/clients/{client_id}/secret',
        '/companies',
        '/companies/{id}',
        '/companies/{id}/domains',
        '/companies/{id}/domains/{domain}',
        '/companies/{id}/domains/{domain}/verify',
        '/companies/{id}/invitations',
        '/companies/{id}/invitations/{invitation_id}',
        '/companies/{id}/invitations/{invitation_id}/resend',
        '/companies/{id}/members',
        '/companies/{id}/members/{account_id}',
        '/companies/{id}/renames',
        '/companies/{id}/renames/{rename_id}',
        '/companies/{id}/members/{account_id}/email-change',
        '/companies/{id}/members/{account_id}/email-change/resend',
        '/keys/rotate',
        '/resource-servers',
        '/resource-servers/{identifier}',
        '/support-cases',
        '/support-cases/{id}',
        '/support-cases/{id}/approve',
        '/support-cases/{id}/reject',
        '/users',
        '/users/{id}',
        ...['disable', 'enable', 'hold', 'release', 'reset-mfa', 'revoke-sessions', 'unlock'].map(
          (a) => `/users/{id}/${a}`,
        ),
      ].sort(),
    );
  });
});
