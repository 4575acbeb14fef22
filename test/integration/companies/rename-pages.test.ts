/**
 * A company's bulk rename from the admin's side (issue 15): started on /company or through the
 * admin API, its progress shown on both; who may start one, and with which domains.
 */
import { randomBytes } from 'node:crypto';
import { accountRow, open, signedInUser, startAccountHarness, type AccountHarness } from '../../helpers/account.js';
import { AdminApiClient, directCli, registerAdminClient } from '../../helpers/admin-api.js';
import { proveDomain, TestDnsServer } from '../../helpers/dns-server.js';
import { en, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { hiddenInputs, submitForm, unescapeHtml, type HttpClient } from '../../helpers/http-client.js';
import { addDomain, createCompany, setMembership } from '../../../src/identity/companies/service.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RenameBody {
  id: string;
  total: number;
  done: number;
  skipped: number;
  finished: boolean;
}

describe('bulk rename on /company and in the admin API', () => {
  let h: AccountHarness;
  let api: AdminApiClient;
  const dns = new TestDnsServer();
  const tag = randomBytes(4).toString('hex');
  const oldDomain = `old-${tag}.example.jp`;
  const newDomain = `new-${tag}.example.jp`;
  const pendingDomain = `pending-${tag}.example.jp`;
  let companyId: string;
  let admin: Awaited<ReturnType<typeof signedInUser>>;
  const members: { id: string; email: string }[] = [];

  beforeAll(async () => {
    await dns.start();
    // No safety poll during the test: the last one holds a rename unfinished.
    h = await startAccountHarness({
      companies: { dnsServers: [dns.address], dnsTimeoutMs: 2000, renamePollMs: 600_000 },
    });
    admin = await signedInUser(h, { email: `admin-${tag}@${newDomain}` });
    companyId = (
      await createCompany(
        h.app.db,
        { name_ja: '旧商事', name_latin: 'Kyu Shoji', admins: [admin.user.id] },
        { actor: 'cli' },
      )
    ).id;
    for (const domain of [oldDomain, newDomain]) await proveDomain(h.app, dns, companyId, domain);
    await addDomain(h.app.db, companyId, pendingDomain, { actor: 'cli' });
    for (const name of ['ichi', 'ni', 'san']) {
      const user = await registerUser(h.app, { email: `${name}-${tag}@${oldDomain}` });
      await setMembership(h.app.db, companyId, user.id, 'member', { actor: 'cli' });
      members.push(user);
    }
    // Someone else already has san's new address: san is left out, with the reason.
    await registerUser(h.app, { email: `san-${tag}@${newDomain}` });
    api = new AdminApiClient(h.issuer);
    await api.loadDocument();
    await api.authenticate(await registerAdminClient(h.app));
  });
  afterAll(async () => {
    await h?.close();
    await dns.stop();
  });

  async function finished(renameId: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const row = await h.app.db
        .selectFrom('company_renames')
        .select('finished_at')
        .where('id', '=', renameId)
        .executeTakeFirstOrThrow();
      if (row.finished_at) return;
      await sleep(100);
    }
    throw new Error('the rename did not finish within 30 s');
  }

  const startOnPage = async (browser: HttpClient, fields: Record<string, string>) => {
    const page = await open(browser, h.issuer, `/company/${companyId}`);
    return submitForm(browser, page, `/company/${companyId}/renames`, { current_password: TEST_PASSWORD, ...fields });
  };

  it('an admin moves the members at one verified domain to another; the page shows the progress', async () => {
    const page = await open(admin.browser, h.issuer, `/company/${companyId}`);
    // Only verified domains are offered.
    const offered = [...page.body.matchAll(/<select id="from_domain"[\s\S]*?<\/select>/g)][0]![0];
    expect(offered).toContain(`value="${oldDomain}"`);
    expect(offered).not.toContain(pendingDomain);

    const answer = await startOnPage(admin.browser, { from_domain: oldDomain, to_domain: newDomain });
    expect(answer.status).toBe(303);
    const { id } = await h.app.db
      .selectFrom('company_renames')
      .select('id')
      .where('company_id', '=', companyId)
      .executeTakeFirstOrThrow();
    await finished(id);

    const shown = await open(admin.browser, h.issuer, `/company/${companyId}?done=rename-started`);
    expect(unescapeHtml(shown.body)).toContain(en('company.done.rename-started'));
    expect(shown.body).toMatch(
      new RegExp(
        `data-from="${oldDomain}" data-to="${newDomain}" data-finished="true" data-done="2" data-skipped="1" data-total="3"`,
      ),
    );
    for (const member of members.slice(0, 2)) {
      const change = await h.app.db
        .selectFrom('email_changes')
        .select(['new_email', 'company_id', 'requested_by'])
        .where('account_id', '=', member.id)
        .executeTakeFirstOrThrow();
      expect(change).toEqual({
        new_email: member.email.replace(oldDomain, newDomain),
        company_id: companyId,
        requested_by: admin.user.id,
      });
      expect((await accountRow(h.app, member.id)).status).toBe('on_hold');
    }
    // The member whose new address is taken stays as they were.
    expect(await accountRow(h.app, members[2]!.id)).toMatchObject({ email: members[2]!.email, status: 'active' });
    const skipped = await h.app.db
      .selectFrom('company_rename_items')
      .select(['state', 'reason'])
      .where('account_id', '=', members[2]!.id)
      .executeTakeFirstOrThrow();
    expect(skipped).toEqual({ state: 'skipped', reason: 'EMAIL_TAKEN' });

    const listed = await api.call<{ items: RenameBody[] }>('GET', `/companies/${companyId}/renames`);
    expect(listed.body.items[0]).toMatchObject({ id, total: 3, done: 2, skipped: 1, finished: true });
    expect((await api.call<RenameBody>('GET', `/companies/${companyId}/renames/${id}`)).body.done).toBe(2);
    const events = await h.app.db
      .selectFrom('audit_events')
      .select(['type', 'actor'])
      .where('company_id', '=', companyId)
      .where('type', 'in', ['company.rename_started', 'company.rename_finished'])
      .orderBy('id')
      .execute();
    expect(events).toEqual([
      { type: 'company.rename_started', actor: admin.user.id },
      { type: 'company.rename_finished', actor: admin.user.id },
    ]);
  });

  it('refuses an unverified or identical domain, a wrong password, and anyone but the admin', async () => {
    const unverified = await startOnPage(admin.browser, { from_domain: newDomain, to_domain: pendingDomain });
    expect(unverified.status).toBe(409);
    const same = await startOnPage(admin.browser, { from_domain: newDomain, to_domain: newDomain });
    expect(same.status).toBe(400);
    const page = await open(admin.browser, h.issuer, `/company/${companyId}`);
    const wrong = await submitForm(admin.browser, page, `/company/${companyId}/renames`, {
      current_password: 'not-my-password',
      from_domain: newDomain,
      to_domain: oldDomain,
    });
    expect(wrong.status).toBe(401);

    const member = await signedInUser(h, { email: `shi-${tag}@${newDomain}` });
    await setMembership(h.app.db, companyId, member.user.id, 'member', { actor: 'cli' });
    const profile = await open(member.browser, h.issuer, '/account/personal');
    const forced = await member.browser.request(`${h.issuer}/company/${companyId}/renames`, {
      method: 'POST',
      form: {
        ...hiddenInputs(profile.body, '/account/personal'),
        current_password: TEST_PASSWORD,
        from_domain: newDomain,
        to_domain: oldDomain,
      },
    });
    expect(forced.status).toBe(403);

    const viaApi = await api.call<{ code: string }>('POST', `/companies/${companyId}/renames`, {
      body: { from_domain: oldDomain, to_domain: pendingDomain },
    });
    expect([viaApi.status, viaApi.body.code]).toEqual([409, 'RENAME_DOMAIN_NOT_VERIFIED']);
    expect(
      await h.app.db.selectFrom('company_renames').select('id').where('company_id', '=', companyId).execute(),
    ).toHaveLength(1);
  });

  it('operators start one through the API; one rename at a time per company', async () => {
    const started = await api.call<RenameBody>('POST', `/companies/${companyId}/renames`, {
      body: { from_domain: oldDomain, to_domain: newDomain },
    });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ total: 3, finished: false });
    await finished(started.body.id);
    // The start's own kick and its NOTIFY may drain once more after the job finished.
    await h.app.renames.settled();
    // A job that has not finished yet, written without the NOTIFY that would wake a worker.
    await h.app.db
      .insertInto('company_renames')
      .values({ company_id: companyId, from_domain: newDomain, to_domain: oldDomain, requested_by: 'cli', total: 0 })
      .execute();
    const second = await api.call<{ code: string }>('POST', `/companies/${companyId}/renames`, {
      body: { from_domain: oldDomain, to_domain: newDomain },
    });
    expect([second.status, second.body.code]).toEqual([409, 'RENAME_RUNNING']);
    for (const success of api.documentedSuccesses().filter((s) => s.includes('/renames')))
      expect(api.seen).toContain(success);
  });

  it('the CLI (on the database) lists the renames and is refused another while one runs', async () => {
    const cli = directCli(h.app);
    const run = ([command, ...args]: string[]) => cli(`company ${command}`, ...args);
    const listed = (await run(['renames', companyId])) as RenameBody[];
    expect(listed).toHaveLength(3);
    expect(listed.filter((r) => !r.finished)).toHaveLength(1);
    await expect(run(['rename', companyId, '--from', oldDomain, '--to', newDomain])).rejects.toMatchObject({
      status: 409,
    });
  });
});
