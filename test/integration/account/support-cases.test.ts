/**
 * M2: a partner asks for a new email address from the profile page; the request is a support
 * case that operators list and resolve through the admin API. Non-partners get the guidance.
 */
import {
  accountRow,
  auditTypes,
  landed,
  open,
  openAndSubmit,
  signedInUser,
  startAccountHarness,
  textOf,
  type AccountHarness,
} from '../../helpers/account.js';
import { AdminApiClient, directCli, registerAdminClient } from '../../helpers/admin-api.js';
import { formErrors, noticeText } from '../../helpers/signup-pages.js';
import { randomBytes } from 'node:crypto';
import { registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages, submitForm } from '../../helpers/http-client.js';
import { codeIn } from '../../helpers/smtp.js';

interface CaseBody {
  id: string;
  account_id: string;
  status: string;
  current_email: string;
  requested_email: string;
  reason: string;
  response: string | null;
  resolved_by: string | null;
}

describe('support cases: a partner asks for a new address (M2)', () => {
  let h: AccountHarness;
  let api: AdminApiClient;
  let adminClientId: string;
  beforeAll(async () => {
    h = await startAccountHarness();
    api = new AdminApiClient(h.issuer);
    await api.loadDocument();
    const admin = await registerAdminClient(h.app);
    adminClientId = admin.client_id;
    await api.authenticate(admin);
  });
  afterAll(async () => {
    await h?.close();
  });

  const unique = () => randomBytes(4).toString('hex');

  async function signedInPartner() {
    const signed = await signedInUser(h, { email: `partner-${unique()}@partner-corp.example` });
    await h.app.db.updateTable('accounts').set({ partner: true }).where('id', '=', signed.user.id).execute();
    return signed;
  }

  /** Posts the form as a page would, even where the page shows no form (a case is open, or not a partner). */
  async function postRequest(browser: Parameters<typeof open>[0], fields: Record<string, string>) {
    const profile = await open(browser, h.issuer, '/account/personal');
    const csrf = profile.body.match(/name="_csrf" value="([^"]+)"/)![1]!;
    return browser.request(`${h.issuer}/account/personal/email`, { method: 'POST', form: { _csrf: csrf, ...fields } });
  }

  const ask = (browser: Parameters<typeof open>[0], fields: Record<string, string>) =>
    openAndSubmit(browser, h.issuer, '/account/personal/email', '/account/personal/email', fields);

  it('a partner opens a case from the profile page, gets a confirmation mail, and sees it open', async () => {
    const { user, browser } = await signedInPartner();
    const profile = await open(browser, h.issuer, '/account/personal');
    expect(profile.body).toContain('href="/account/personal/email"');

    const requested = `new-${unique()}@merged-corp.example`;
    const page = await landed(
      browser,
      await ask(browser, { requested_email: ` ${requested.toUpperCase()} `, reason: 'Our company merged.' }),
    );
    expect(noticeText(page.body)).toMatch(/request is sent/);
    expect(textOf(page.body, 'open-request')).toContain(requested);
    expect(page.body).not.toContain('name="requested_email"');

    const mail = await h.mail.waitFor(user.email, (m) => /received your request/.test(m.subject));
    expect(mail.text).toContain(requested);
    expect(await auditTypes(h.app, user.id)).toContain('support_case.opened');

    const listed = await api.call<{ items: CaseBody[] }>('GET', '/support-cases?status=open&limit=200');
    expect(listed.status).toBe(200);
    expect(listed.body.items.find((c) => c.account_id === user.id)).toMatchObject({
      status: 'open',
      current_email: user.email,
      requested_email: requested,
      reason: 'Our company merged.',
    });

    // One open case at a time: a second request is refused with the reason, nothing stored.
    const again = await postRequest(browser, { requested_email: `other-${unique()}@merged-corp.example`, reason: 'x' });
    expect(again.status).toBe(409);
    expect(formErrors(again.body).join(' ')).toMatch(/already have an open request/);
    const cases = await h.app.db.selectFrom('support_cases').select('id').where('account_id', '=', user.id).execute();
    expect(cases).toHaveLength(1);
  });

  it('refuses bad requests with their reasons and stores nothing', async () => {
    const { user, browser } = await signedInPartner();
    const same = await ask(browser, { requested_email: user.email, reason: '' });
    expect(same.status).toBe(400);
    const problems = formErrors(same.body).join(' ');
    expect(problems).toMatch(/your current email address/);
    expect(problems).toMatch(/why the address changes/);

    const free = await ask(browser, { requested_email: `me-${unique()}@gmail.com`, reason: 'Moving on' });
    expect(free.status).toBe(400);
    const invalid = await ask(browser, { requested_email: 'not an address', reason: 'Moving on' });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toContain('value="not an address"');
    const stored = await h.app.db.selectFrom('support_cases').select('id').where('account_id', '=', user.id).execute();
    expect(stored).toEqual([]);
  });

  it('a non-partner sees the guidance and cannot open a case', async () => {
    const { user, browser } = await signedInUser(h);
    const profile = await open(browser, h.issuer, '/account/personal');
    expect(profile.body).not.toContain('href="/account/personal/email"');
    const page = await open(browser, h.issuer, '/account/personal/email');
    expect(page.status).toBe(200);
    expect(textOf(page.body, 'email-guidance')).toMatch(/ask its administrator/);
    expect(page.body).not.toContain('name="requested_email"');

    const forced = await postRequest(browser, { requested_email: `x-${unique()}@corp.example`, reason: 'please' });
    expect(forced.status).toBe(403);
    const stored = await h.app.db.selectFrom('support_cases').select('id').where('account_id', '=', user.id).execute();
    expect(stored).toEqual([]);
  });

  it('an operator rejects a case: the user gets the message by mail, the address stays', async () => {
    const { user, browser } = await signedInPartner();
    const requested = `new-${unique()}@merged-corp.example`;
    await ask(browser, { requested_email: requested, reason: 'New domain' });
    const { id } = await h.app.db
      .selectFrom('support_cases')
      .select('id')
      .where('account_id', '=', user.id)
      .executeTakeFirstOrThrow();

    const empty = await api.call('POST', `/support-cases/${id}/reject`, { body: { message: '' } });
    expect(empty.status).toBe(400);

    const rejected = await api.call<CaseBody>('POST', `/support-cases/${id}/reject`, {
      body: { message: 'We could not confirm the merger.\nPlease ask your contact at Monban.' },
    });
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({
      status: 'rejected',
      response: 'We could not confirm the merger.\nPlease ask your contact at Monban.',
      resolved_by: adminClientId,
    });
    const mail = await h.mail.waitFor(user.email, (m) => /not approved/.test(m.subject));
    expect(mail.text).toContain('We could not confirm the merger.');
    expect(mail.text).toContain(requested);
    expect((await accountRow(h.app, user.id)).email).toBe(user.email);
    expect(await auditTypes(h.app, user.id)).toContain('support_case.rejected');

    // Resolved once: a second rejection is refused; the user may ask again.
    const twice = await api.call<{ code: string }>('POST', `/support-cases/${id}/reject`, {
      body: { message: 'again' },
    });
    expect(twice.status).toBe(409);
    const page = await open(browser, h.issuer, '/account/personal/email');
    expect(page.body).toContain('name="requested_email"');

    const fetched = await api.call<CaseBody>('GET', `/support-cases/${id}`);
    expect(fetched.body.status).toBe('rejected');
    expect((await api.call('GET', '/support-cases/not-a-case')).status).toBe(404);
  });

  it('an operator approves a case: a code goes to the new address, the account waits on hold, and the code finishes the change', async () => {
    const { user, browser } = await signedInPartner();
    const requested = `approved-${unique()}@merged-corp.example`;
    await ask(browser, { requested_email: requested, reason: 'Merger' });
    const { id } = await h.app.db
      .selectFrom('support_cases')
      .select('id')
      .where('account_id', '=', user.id)
      .executeTakeFirstOrThrow();

    const approved = await api.call<CaseBody>('POST', `/support-cases/${id}/approve`);
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ status: 'approved', resolved_by: adminClientId, requested_email: requested });
    expect((await accountRow(h.app, user.id)).status).toBe('on_hold');
    // The hold ended the partner's console session.
    expect((await open(browser, h.issuer, '/account')).status).not.toBe(200);
    const codeMail = await h.mail.waitFor(requested, (m) => /\b\d{6}\b/.test(m.text));
    expect(codeMail.text).toMatch(/our support team is changing/);
    expect((await h.mail.waitFor(user.email, (m) => /being changed/.test(m.subject))).text).toContain(requested);
    expect((await api.call('POST', `/support-cases/${id}/approve`)).status).toBe(409);

    // The partner logs in with the old address and password, and the code from the new one.
    const fresh = new HttpClient({ 'accept-language': 'en' });
    const step = await loginThroughPages(fresh, `${h.issuer}/account`, `${h.issuer}/account/callback`, {
      email: user.email,
      password: TEST_PASSWORD,
    });
    expect(step.url).toMatch(/\/interaction\/[^/]+\/email-change$/);
    expect((await submitForm(fresh, step, '/email-change', { code: codeIn(codeMail) })).status).toBe(303);
    expect(await accountRow(h.app, user.id)).toMatchObject({ email: requested, status: 'active' });
    expect(await auditTypes(h.app, user.id)).toEqual(
      expect.arrayContaining(['support_case.approved', 'account.email_change_started', 'account.email_changed']),
    );
  });

  it("approving a case for an address that is now another account's is refused; the case stays open", async () => {
    const { user, browser } = await signedInPartner();
    const requested = `taken-${unique()}@merged-corp.example`;
    await ask(browser, { requested_email: requested, reason: 'Merger' });
    await registerUser(h.app, { email: requested });
    const { id } = await h.app.db
      .selectFrom('support_cases')
      .select('id')
      .where('account_id', '=', user.id)
      .executeTakeFirstOrThrow();
    const refused = await api.call<{ code: string }>('POST', `/support-cases/${id}/approve`);
    expect([refused.status, refused.body.code]).toEqual([409, 'EMAIL_TAKEN']);
    expect((await api.call<CaseBody>('GET', `/support-cases/${id}`)).body.status).toBe('open');
    expect(await accountRow(h.app, user.id)).toMatchObject({ email: user.email, status: 'active' });
  });

  it('lists cases oldest first across pages, filtered by status', async () => {
    for (let i = 0; i < 3; i += 1) {
      const { browser } = await signedInPartner();
      await ask(browser, { requested_email: `page-${unique()}@merged-corp.example`, reason: `case ${i}` });
    }
    const seen: CaseBody[] = [];
    let next: string | null = null;
    do {
      const page: { body: { items: CaseBody[]; next: string | null } } = await api.call(
        'GET',
        `/support-cases?status=open&limit=2${next ? `&after=${next}` : ''}`,
      );
      seen.push(...page.body.items);
      next = page.body.next;
    } while (next);
    expect(seen.every((c) => c.status === 'open')).toBe(true);
    expect(new Set(seen.map((c) => c.id)).size).toBe(seen.length);
    const open = await h.app.db.selectFrom('support_cases').select('id').where('status', '=', 'open').execute();
    expect(seen).toHaveLength(open.length);
    for (const success of api.documentedSuccesses().filter((s) => s.includes('/support-cases')))
      expect(api.seen).toContain(success);
  });

  it('the CLI (on the database) lists open cases, rejects one and approves another, audited as cli', async () => {
    const cli = directCli(h.app);
    const run = ([command, ...args]: string[]) => cli(`case ${command}`, ...args);
    const [first, second] = [await signedInPartner(), await signedInPartner()];
    for (const { browser } of [first, second])
      await ask(browser, { requested_email: `cli-${unique()}@merged-corp.example`, reason: 'Merger' });
    const open_ = (await run(['list', '--status', 'open'])) as CaseBody[];
    const caseOf = (accountId: string) => open_.find((c) => c.account_id === accountId)!;
    expect(caseOf(first.user.id).status).toBe('open');
    expect(await run(['reject', caseOf(first.user.id).id, '--message', 'Not confirmed'])).toMatchObject({
      status: 'rejected',
      resolved_by: 'cli',
    });
    expect(await run(['approve', caseOf(second.user.id).id])).toMatchObject({ status: 'approved', resolved_by: 'cli' });
    expect((await accountRow(h.app, second.user.id)).status).toBe('on_hold');
    const left = (await run(['list', '--status', 'open'])) as CaseBody[];
    expect(left.map((c) => c.account_id)).not.toEqual(expect.arrayContaining([first.user.id]));
    expect(left.map((c) => c.account_id)).not.toEqual(expect.arrayContaining([second.user.id]));
  });
});
