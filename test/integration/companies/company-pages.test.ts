/**
 * /company: the pages of company admins (issue 15). Every action asks for the admin's password,
 * is audited with the admin as actor and the company; members and other companies' admins get 403.
 */
import { randomBytes } from 'node:crypto';
import { accountRow, open, signedInUser, startAccountHarness, type AccountHarness } from '../../helpers/account.js';
import { registerClient, registerUser } from '../../helpers/fixtures.js';
import {
  alertText,
  hiddenInputs,
  unescapeHtml,
  submitForm,
  type HttpClient,
  type PageResponse,
} from '../../helpers/http-client.js';
import { rpLogin, userWithTotp } from '../../helpers/mfa.js';
import { createCompany, setMembership } from '../../../src/identity/companies/service.js';
import { en, ja, messageText, TEST_PASSWORD } from '../../helpers/fixtures.js';

describe('company admin pages', () => {
  let h: AccountHarness;
  const tag = randomBytes(3).toString('hex');
  let companyId: string;
  let otherCompanyId: string;
  let admin: { user: { id: string; email: string }; browser: HttpClient };
  let memberBrowser: HttpClient;
  let otherAdmin: HttpClient;
  let member: { id: string; email: string };

  beforeAll(async () => {
    h = await startAccountHarness();
    admin = await signedInUser(h, { email: `a-admin-${tag}@a.example.com` });
    const company = await createCompany(
      h.app.db,
      { name_ja: '甲株式会社', name_latin: 'Kou K.K.', admins: [admin.user.id] },
      { actor: 'cli' },
    );
    companyId = company.id;
    const plain = await signedInUser(h, { email: `a-member-${tag}@a.example.com` });
    memberBrowser = plain.browser;
    member = plain.user;
    await setMembership(h.app.db, companyId, member.id, 'member', { actor: 'cli' });
    const other = await signedInUser(h, { email: `b-admin-${tag}@b.example.com` });
    otherAdmin = other.browser;
    otherCompanyId = (
      await createCompany(h.app.db, { name_ja: '乙', name_latin: 'Otsu', admins: [other.user.id] }, { actor: 'cli' })
    ).id;
  });
  afterAll(async () => {
    await h?.close();
  });

  const membersPage = () => open(admin.browser, h.issuer, `/company/${companyId}`);
  async function act(targetId: string, action: string, password = TEST_PASSWORD): Promise<PageResponse> {
    const page = await membersPage();
    expect(page.status).toBe(200);
    return submitForm(admin.browser, page, `/company/${companyId}/members/${targetId}`, {
      current_password: password,
      do: action,
    });
  }
  const companyAudit = (accountId: string) =>
    h.app.db
      .selectFrom('audit_events')
      .select(['type', 'actor'])
      .where('company_id', '=', companyId)
      .where('account_id', '=', accountId)
      .orderBy('id')
      .execute();

  it('opens the company from /company for its admin, in the console look, with the globe menu', async () => {
    const start = await open(admin.browser, h.issuer, '/company');
    expect(start.status).toBe(303);
    expect(start.location).toContain(`/company/${companyId}`);
    const page = await membersPage();
    expect(page.body).toContain('Kou K.K.');
    expect(page.body).toContain(member.email);
    expect(page.body).toMatch(/hreflang="ja"|lang=ja/);
    const ja = await open(admin.browser, h.issuer, `/company/${companyId}?lang=ja`);
    expect(ja.body).toContain('甲株式会社');
    expect(ja.body).toContain('会社から外す');
    await open(admin.browser, h.issuer, `/company/${companyId}?lang=en`);
  });

  it('asks for the password on every action; a wrong one changes nothing', async () => {
    const none = await act(member.id, 'role-admin', '');
    expect(none.status).toBe(400);
    const wrong = await act(member.id, 'role-admin', 'Wrong-Password-1!');
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain('current password');
    const [row] = await h.app.db
      .selectFrom('company_memberships')
      .select('role')
      .where('account_id', '=', member.id)
      .execute();
    expect(row?.role).toBe('member');
  });

  it('changes a role, holds and releases, resets MFA (mailed), removes: each audited with the admin as actor', async () => {
    const totp = await userWithTotp(h);
    await setMembership(h.app.db, companyId, totp.user.id, 'member', { actor: 'cli' });

    expect((await act(totp.user.id, 'role-admin')).status).toBe(303);
    expect((await act(totp.user.id, 'role-member')).status).toBe(303);

    expect((await act(totp.user.id, 'hold')).status).toBe(303);
    expect((await accountRow(h.app, totp.user.id)).status).toBe('on_hold');
    const rp = await registerClient(h.app);
    const refused = await rpLogin(h, rp, totp.user.email);
    expect(alertText(refused.page.body)).toBeDefined();
    expect((await act(totp.user.id, 'release')).status).toBe(303);
    expect((await accountRow(h.app, totp.user.id)).status).toBe('active');

    const before = h.mail.mailsTo(totp.user.email).length;
    const reset = await act(totp.user.id, 'reset-mfa');
    expect(reset.status).toBe(303);
    const done = await admin.browser.follow(reset.location!);
    expect(done.body).toContain('Two-step verification was reset');
    await h.mail.waitFor(totp.user.email, () => h.mail.mailsTo(totp.user.email).length > before);
    const factors = await h.app.db
      .selectFrom('mfa_factors')
      .select('id')
      .where('account_id', '=', totp.user.id)
      .execute();
    expect(factors).toEqual([]);

    expect((await act(totp.user.id, 'remove')).status).toBe(303);
    expect((await accountRow(h.app, totp.user.id)).company_managed).toBe(false);

    const events = await companyAudit(totp.user.id);
    expect(events.map((e) => e.type)).toEqual([
      'company.member_added',
      'company.role_changed',
      'company.role_changed',
      'account.held',
      'account.released',
      'admin.user.mfa_removed',
      'company.member_removed',
    ]);
    expect(events.slice(1).every((e) => e.actor === admin.user.id)).toBe(true);

    const audit = await open(admin.browser, h.issuer, `/company/${companyId}/audit`);
    expect(audit.status).toBe(200);
    expect(audit.body).toContain(admin.user.email);
    // Sentences, not event names, in the page's language.
    const cells = (page: PageResponse) =>
      [...page.body.matchAll(/<tr class="event"[^>]*><td>[^<]*<\/td><td>([^<]*)<\/td>/g)].map((m) =>
        unescapeHtml(m[1]!),
      );
    for (const [lang, text] of [
      ['en', en],
      ['ja', ja],
    ] as const) {
      const page = await open(admin.browser, h.issuer, `/company/${companyId}/audit?lang=${lang}`);
      expect(cells(page)).toEqual(
        expect.arrayContaining([
          text('company.events.company_member_removed'),
          text('company.events.company_role_changed_admin'),
          text('company.events.company_role_changed_member'),
          text('company.events.account_held'),
          text('company.events.admin_user_mfa_removed'),
        ]),
      );
      expect(cells(page).filter((cell) => /^[a-z_]+(\.[a-z_]+)+$/.test(cell))).toEqual([]);
    }
    await open(admin.browser, h.issuer, `/company/${companyId}/audit?lang=en`);
  });

  it('requires MFA for members when the admin says so', async () => {
    const page = await membersPage();
    const res = await submitForm(admin.browser, page, `/company/${companyId}/require-mfa`, {
      current_password: TEST_PASSWORD,
      require_mfa: 'on',
    });
    expect(res.status).toBe(303);
    const company = await h.app.db
      .selectFrom('companies')
      .select('require_mfa')
      .where('id', '=', companyId)
      .executeTakeFirstOrThrow();
    expect(company.require_mfa).toBe(true);
  });

  it('keeps at least one admin: the only one can neither step down nor leave (409, in words)', async () => {
    for (const action of ['role-member', 'remove']) {
      const res = await act(admin.user.id, action);
      expect([action, res.status]).toEqual([action, 409]);
      expect(res.body).toContain(messageText('en', 'errors.COMPANY_LAST_ADMIN'));
    }
    const [row] = await h.app.db
      .selectFrom('company_memberships')
      .select('role')
      .where('company_id', '=', companyId)
      .where('account_id', '=', admin.user.id)
      .execute();
    expect(row?.role).toBe('admin');
  });

  it('two admins demoting or removing each other at the same moment: one of them stays admin', async () => {
    const a = await signedInUser(h, { email: `race-a-${tag}@a.example.com` });
    const b = await signedInUser(h, { email: `race-b-${tag}@a.example.com` });
    const rounds = [
      ['role-member', 'role-member'],
      ['remove', 'remove'],
      ['role-member', 'remove'],
      ['remove', 'role-member'],
    ] as const;
    await Promise.all(
      rounds.map(async ([byA, byB], i) => {
        const id = (
          await createCompany(
            h.app.db,
            { name_ja: `競争${i}`, name_latin: `Race ${i}`, admins: [a.user.id, b.user.id] },
            { actor: 'cli' },
          )
        ).id;
        const [pageA, pageB] = await Promise.all([
          open(a.browser, h.issuer, `/company/${id}`),
          open(b.browser, h.issuer, `/company/${id}`),
        ]);
        const answers = await Promise.all([
          submitForm(a.browser, pageA, `/company/${id}/members/${b.user.id}`, {
            current_password: TEST_PASSWORD,
            do: byA,
          }),
          submitForm(b.browser, pageB, `/company/${id}/members/${a.user.id}`, {
            current_password: TEST_PASSWORD,
            do: byB,
          }),
        ]);
        const admins = await h.app.db
          .selectFrom('company_memberships')
          .select('account_id')
          .where('company_id', '=', id)
          .where('role', '=', 'admin')
          .execute();
        expect([i, admins.length]).toEqual([i, 1]);
        // The other is refused: 409 when both were under way, 403 when it came after (no longer an admin).
        const [won, lost] = answers.map((r) => r.status).sort();
        expect([i, won]).toEqual([i, 303]);
        expect([403, 409]).toContain(lost);
      }),
    );
  });

  it('searches members and pages through them with a cursor', async () => {
    for (let i = 0; i < 26; i++) {
      const user = await registerUser(h.app, { email: `page-${String(i).padStart(2, '0')}-${tag}@a.example.com` });
      await setMembership(h.app.db, companyId, user.id, 'member', { actor: 'cli' });
    }
    const first = await membersPage();
    const emailsOn = (page: PageResponse) => [...page.body.matchAll(/data-email="([^"]+)"/g)].map((m) => m[1]!);
    expect(emailsOn(first)).toHaveLength(25);
    const next = first.body.match(/href="([^"]+)" id="next-page"/)?.[1];
    expect(next).toBeDefined();
    const second = await admin.browser.request(new URL(unescapeHtml(next!), h.issuer).toString());
    const all = [...emailsOn(first), ...emailsOn(second)];
    expect(new Set(all).size).toBe(all.length);
    expect(all.filter((e) => e.startsWith('page-'))).toHaveLength(26);
    const found = await open(admin.browser, h.issuer, `/company/${companyId}?q=page-07`);
    expect(emailsOn(found)).toEqual([`page-07-${tag}@a.example.com`]);
  });

  it('answers 403 to a member and to the admin of another company, on every page and action', async () => {
    for (const browser of [memberBrowser, otherAdmin]) {
      const own = await open(browser, h.issuer, '/account/personal');
      const csrf = hiddenInputs(own.body, '/account/personal');
      for (const path of ['/company', `/company/${companyId}`, `/company/${companyId}/audit`]) {
        if (browser === otherAdmin && path === '/company') continue; // their own company
        expect([path, (await open(browser, h.issuer, path)).status]).toEqual([path, 403]);
      }
      for (const action of ['role-admin', 'role-member', 'hold', 'release', 'reset-mfa', 'remove']) {
        const res = await browser.request(`${h.issuer}/company/${companyId}/members/${member.id}`, {
          form: { ...csrf, current_password: TEST_PASSWORD, do: action },
        });
        expect([action, res.status]).toEqual([action, 403]);
        expect(alertText(res.body)).toBe(messageText('en', 'errors.COMPANY_FORBIDDEN'));
      }
      const policy = await browser.request(`${h.issuer}/company/${companyId}/require-mfa`, {
        form: { ...csrf, current_password: TEST_PASSWORD },
      });
      expect(policy.status).toBe(403);
    }
    expect((await open(otherAdmin, h.issuer, `/company/${otherCompanyId}`)).status).toBe(200);
    const [row] = await h.app.db
      .selectFrom('company_memberships')
      .select('role')
      .where('account_id', '=', member.id)
      .execute();
    expect(row?.role).toBe('member');
  });
});
