import { freePort } from '../../helpers/app.js';
import { ChildServer, sharedDeployment, type SharedDeployment } from '../../helpers/child-server.js';
import { MailCatcher } from '../../helpers/smtp.js';
import { closeServices, openServices, type Services } from '../../../src/app.js';
import { loadConfig } from '../../../src/config/load.js';
import { startRename } from '../../../src/identity/companies/renames.js';
import { TEST_SECRET } from '../../helpers/env.js';

const MEMBERS = 300;
const OLD = 'old-kaisha.example';
const NEW = 'new-kaisha.example';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A company's bulk rename (issue 15): 300 members move from one verified domain to another, as
 * one job worked by two server processes at once, one of which is killed (SIGKILL) partway.
 * Every member is renamed exactly once: one pending change, one code mail, one audit event each.
 */
describe('bulk rename of a company domain survives a process killed halfway', () => {
  let deployment: SharedDeployment;
  let services: Services;
  let mail: MailCatcher;
  const servers: ChildServer[] = [];
  let companyId: string;

  beforeAll(async () => {
    mail = await new MailCatcher().start();
    const port = await freePort();
    deployment = await sharedDeployment(`http://127.0.0.1:${port}`, {
      SMTP_URL: mail.url,
      MONBAN_COMPANIES__RENAME_POLL_MS: '200',
    });
    services = await openServices(
      loadConfig({
        env: { NODE_ENV: 'test' },
        overrides: {
          databaseUrl: deployment.env.DATABASE_URL,
          secret: TEST_SECRET,
          dataDir: 'memory://',
          issuer: deployment.env.ISSUER,
        },
      }),
    );
    const { db } = services;
    const company = await db
      .insertInto('companies')
      .values({ name_ja: '株式会社旧社名', name_latin: 'Old Kaisha K.K.' })
      .returning('id')
      .executeTakeFirstOrThrow();
    companyId = company.id;
    await db
      .insertInto('company_domains')
      .values(
        [OLD, NEW].map((domain) => ({
          company_id: companyId,
          domain,
          verification_token: `token-${domain}`,
          verified_at: new Date(),
        })),
      )
      .execute();
    // Accounts share the seeded user's password hash: 300 bcrypt runs would only slow the test.
    const seeded = await db
      .selectFrom('accounts')
      .select('password_hash')
      .where('email', '=', deployment.email)
      .executeTakeFirstOrThrow();
    const accounts = await db
      .insertInto('accounts')
      .values(
        Array.from({ length: MEMBERS }, (_, n) => ({
          username: `rename${String(n).padStart(4, '0')}`,
          email: `member${n}@${OLD}`,
          email_verified: true,
          password_hash: seeded.password_hash,
          given_name: 'Taro',
          family_name: 'Sato',
          locale: 'ja' as const,
          status: 'active' as const,
        })),
      )
      .returning('id')
      .execute();
    await db
      .insertInto('company_memberships')
      .values(accounts.map((a) => ({ company_id: companyId, account_id: a.id, role: 'member' as const })))
      .execute();
    for (const p of [port, await freePort()]) servers.push(await ChildServer.start(p, deployment.env));
  }, 600_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.kill()));
    if (services) await closeServices(services);
    await deployment?.close();
    await mail?.stop();
  });

  const progress = () =>
    services.db
      .selectFrom('company_renames')
      .select(['done', 'skipped', 'total', 'finished_at'])
      .where('company_id', '=', companyId)
      .executeTakeFirstOrThrow();

  it('renames every member once, though one of the two processes dies mid-job', async () => {
    const started = await startRename(services.db, companyId, { from: OLD, to: NEW }, { actor: 'cli' });
    expect(started).toMatchObject({ total: MEMBERS, done: 0, finished: false });

    // Kill the first process while the job is well under way.
    for (;;) {
      if ((await progress()).done >= MEMBERS / 5) break;
      await sleep(10);
    }
    servers[0]!.signal('SIGKILL');
    await servers[0]!.exited;
    expect((await progress()).done).toBeLessThan(MEMBERS);

    const deadline = Date.now() + 240_000;
    while (!(await progress()).finished_at && Date.now() < deadline) await sleep(200);
    expect(await progress()).toMatchObject({
      done: MEMBERS,
      skipped: 0,
      total: MEMBERS,
      finished_at: expect.any(Date),
    });

    const { db } = services;
    const changes = await db
      .selectFrom('email_changes as c')
      .innerJoin('accounts as a', 'a.id', 'c.account_id')
      .select(['a.email', 'c.new_email', 'a.status'])
      .execute();
    expect(changes).toHaveLength(MEMBERS);
    for (const change of changes) {
      expect(change.new_email).toBe(change.email.replace(`@${OLD}`, `@${NEW}`));
      expect(change.status).toBe('on_hold');
    }
    // Exactly one code to each new address, one notice to each old one, one audit event each.
    const codes = await db
      .selectFrom('outbox')
      .select(['recipient'])
      .where('template', '=', 'email-change-code')
      .execute();
    expect(codes).toHaveLength(MEMBERS);
    expect(new Set(codes.map((c) => c.recipient)).size).toBe(MEMBERS);
    const started_ = await db
      .selectFrom('audit_events')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('type', '=', 'account.email_change_started')
      .where('company_id', '=', companyId)
      .executeTakeFirstOrThrow();
    expect(Number(started_.n)).toBe(MEMBERS);
    const finished = await db
      .selectFrom('audit_events')
      .select('details')
      .where('type', '=', 'company.rename_finished')
      .execute();
    expect(finished).toEqual([{ details: expect.objectContaining({ done: MEMBERS, skipped: 0 }) }]);
  }, 600_000);
});
