import { randomBytes } from 'node:crypto';
import { rpSignIn, startAccountHarness, userinfo, accountRow, type AccountHarness } from '../../helpers/account.js';
import { AdminApiClient, registerAdminClient } from '../../helpers/admin-api.js';
import { registerClient, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient } from '../../helpers/http-client.js';
import { jwtClaims } from '../../helpers/mfa.js';

interface Company {
  id: string;
  name_ja: string;
  name_latin: string;
  corporate_number: string | null;
  require_mfa: boolean;
  domains: { domain: string; verified: boolean; join_policy: string; txt_record: { name: string; value: string } }[];
}
interface Member {
  account_id: string;
  email: string;
  role: string;
}
interface Page<T> {
  items: T[];
  next: string | null;
}

describe('admin API: companies', () => {
  let h: AccountHarness;
  let api: AdminApiClient;
  const tag = randomBytes(4).toString('hex');

  beforeAll(async () => {
    h = await startAccountHarness();
    api = new AdminApiClient(h.issuer);
    await api.loadDocument();
    await api.authenticate(await registerAdminClient(h.app));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('creates a company with names, a 法人番号, domains and an admin; the admin account becomes company-managed', async () => {
    const admin = await registerUser(h.app, { email: `boss-${tag}@kaisha-${tag}.co.jp` });
    const res = await api.call<Company>('POST', '/companies', {
      body: {
        name_ja: '株式会社門番',
        name_latin: 'Monban K.K.',
        corporate_number: '7000012050002',
        domains: [`Kaisha-${tag}.co.jp`],
        admins: [admin.email],
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name_ja: '株式会社門番',
      name_latin: 'Monban K.K.',
      corporate_number: '7000012050002',
      require_mfa: false,
    });
    expect(res.body.domains).toEqual([
      expect.objectContaining({ domain: `kaisha-${tag}.co.jp`, verified: false, join_policy: 'invitation' }),
    ]);
    expect(res.body.domains[0]?.txt_record.value).toMatch(/^monban-verification=[0-9a-f]{32}$/);
    expect(res.headers.get('location')).toBe(`/admin/api/v1/companies/${res.body.id}`);

    const members = await api.call<Page<Member>>('GET', `/companies/${res.body.id}/members`);
    expect(members.body.items).toEqual([expect.objectContaining({ account_id: admin.id, role: 'admin' })]);
    expect((await accountRow(h.app, admin.id)).company_managed).toBe(true);

    const audit = await h.app.db
      .selectFrom('audit_events')
      .select(['type', 'actor'])
      .where('company_id', '=', res.body.id)
      .orderBy('id')
      .execute();
    expect(audit.map((e) => e.type)).toEqual(['company.created', 'company.member_added']);
  });

  it('refuses a 法人番号 whose check digit is wrong, a taken one, bad names and bad domains, in words', async () => {
    const wrongDigit = await api.call<{ code: string; detail: string }>('POST', '/companies', {
      body: { name_ja: '会社', name_latin: 'Kaisha', corporate_number: '8000012050002' },
    });
    expect(wrongDigit.status).toBe(400);
    expect(wrongDigit.body.code).toBe('CORPORATE_NUMBER_INVALID');
    expect(wrongDigit.body.detail).toMatch(/check digit/);

    const first = await api.call<Company>('POST', '/companies', {
      body: { name_ja: 'トヨタ自動車株式会社', name_latin: 'Toyota', corporate_number: '1180-3010-1877-1' },
    });
    expect(first.status).toBe(201);
    expect(first.body.corporate_number).toBe('1180301018771');
    const again = await api.call<{ code: string }>('POST', '/companies', {
      body: { name_ja: '別会社', name_latin: 'Other', corporate_number: '1180301018771' },
    });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('CORPORATE_NUMBER_TAKEN');

    const noName = await api.call<{ code: string }>('POST', '/companies', { body: { name_ja: ' ', name_latin: 'X' } });
    expect(noName.body.code).toBe('COMPANY_NAME_REQUIRED');
    const badDomain = await api.call<{ code: string }>('POST', '/companies', {
      body: { name_ja: '会社', name_latin: 'Kaisha', domains: ['not a domain'] },
    });
    expect(badDomain.status).toBe(400);
    expect(badDomain.body.code).toBe('DOMAIN_INVALID');
    const unknownAdmin = await api.call<{ code: string }>('POST', '/companies', {
      body: { name_ja: '会社', name_latin: 'Kaisha', admins: [`nobody-${tag}@example.com`] },
    });
    expect(unknownAdmin.status).toBe(404);
    expect(unknownAdmin.body.code).toBe('ACCOUNT_NOT_FOUND');
  });

  it('adds and removes members, changes roles; leaving the last company makes the company fields editable again', async () => {
    const company = (
      await api.call<Company>('POST', '/companies', { body: { name_ja: '二社目', name_latin: 'Second' } })
    ).body;
    const user = await registerUser(h.app);
    const added = await api.call<Member>('POST', `/companies/${company.id}/members`, {
      body: { account: user.email, role: 'member' },
    });
    expect(added.status).toBe(200);
    expect(added.body).toMatchObject({ account_id: user.id, role: 'member' });
    expect((await accountRow(h.app, user.id)).company_managed).toBe(true);

    const promoted = await api.call<Member>('PATCH', `/companies/${company.id}/members/${user.id}`, {
      body: { role: 'admin' },
    });
    expect(promoted.body.role).toBe('admin');

    // The only admin can neither step down nor leave: a company keeps one.
    for (const refused of [
      await api.call<{ code: string }>('PATCH', `/companies/${company.id}/members/${user.id}`, {
        body: { role: 'member' },
      }),
      await api.call<{ code: string }>('POST', `/companies/${company.id}/members`, {
        body: { account: user.id, role: 'member' },
      }),
      await api.call<{ code: string }>('DELETE', `/companies/${company.id}/members/${user.id}`),
    ]) {
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('COMPANY_LAST_ADMIN');
    }
    const other = await registerUser(h.app);
    await api.call('POST', `/companies/${company.id}/members`, { body: { account: other.id, role: 'admin' } });

    const removed = await api.call('DELETE', `/companies/${company.id}/members/${user.id}`);
    expect(removed.status).toBe(204);
    expect((await accountRow(h.app, user.id)).company_managed).toBe(false);
    expect((await api.call('DELETE', `/companies/${company.id}/members/${user.id}`)).status).toBe(404);
    expect((await api.call('GET', `/companies/${randomUuid()}`)).status).toBe(404);

    const types = await h.app.db
      .selectFrom('audit_events')
      .select('type')
      .where('company_id', '=', company.id)
      .where('account_id', '=', user.id)
      .orderBy('id')
      .execute();
    expect(types.map((t) => t.type)).toEqual([
      'company.member_added',
      'company.role_changed',
      'company.member_removed',
    ]);
  });

  it('pages members with a cursor and searches them by address or name', async () => {
    const company = (
      await api.call<Company>('POST', '/companies', { body: { name_ja: '三社目', name_latin: 'Third' } })
    ).body;
    const emails: string[] = [];
    for (let i = 0; i < 5; i++) {
      const user = await registerUser(h.app, { email: `m${i}-${tag}@third.example.com` });
      emails.push(user.email);
      await api.call('POST', `/companies/${company.id}/members`, { body: { account: user.id, role: 'member' } });
    }
    const first = await api.call<Page<Member>>('GET', `/companies/${company.id}/members?limit=2`);
    expect(first.body.items.map((m) => m.email)).toEqual(emails.slice(0, 2));
    expect(first.headers.get('link')).toContain('rel="next"');
    const seen = [...first.body.items];
    let next = first.body.next;
    while (next) {
      const page = await api.call<Page<Member>>('GET', `/companies/${company.id}/members?limit=2&after=${next}`);
      seen.push(...page.body.items);
      next = page.body.next;
    }
    expect(seen.map((m) => m.email)).toEqual(emails);
    const searched = await api.call<Page<Member>>('GET', `/companies/${company.id}/members?q=M3-${tag}`);
    expect(searched.body.items.map((m) => m.email)).toEqual([emails[3]]);
  });

  it('lists companies and changes one (require MFA, names); needs the companies scopes', async () => {
    const company = (
      await api.call<Company>('POST', '/companies', { body: { name_ja: '四社目', name_latin: 'Fourth' } })
    ).body;
    const changed = await api.call<Company>('PATCH', `/companies/${company.id}`, {
      body: { require_mfa: true, name_latin: 'Fourth Inc.' },
    });
    expect(changed.body).toMatchObject({ require_mfa: true, name_latin: 'Fourth Inc.' });
    const all: Company[] = [];
    let next: string | null = null;
    do {
      const page: { body: Page<Company> } = await api.call<Page<Company>>(
        'GET',
        `/companies?limit=2${next ? `&after=${next}` : ''}`,
      );
      all.push(...page.body.items);
      next = page.body.next;
    } while (next);
    expect(all.map((c) => c.id)).toContain(company.id);

    const readOnly = new AdminApiClient(h.issuer);
    await readOnly.authenticate(await registerAdminClient(h.app), ['admin:companies.read']);
    const refused = await readOnly.call<{ code: string }>('PATCH', `/companies/${company.id}`, {
      body: { require_mfa: false },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('INSUFFICIENT_SCOPE');
  });

  it('tells an RP that asks for the companies scope which companies the user belongs to, with the role; gone after leaving', async () => {
    const rp = await registerClient(h.app);
    const otherAdmin = await registerUser(h.app);
    const company = (
      await api.call<Company>('POST', '/companies', {
        body: { name_ja: '五社目', name_latin: 'Fifth', admins: [otherAdmin.email] },
      })
    ).body;
    const user = await registerUser(h.app);
    await api.call('POST', `/companies/${company.id}/members`, { body: { account: user.id, role: 'admin' } });
    const tokens = await rpSignIn(new HttpClient(), h.issuer, rp, user.email, TEST_PASSWORD, {
      scope: 'openid email companies',
    });
    const expected = [{ id: company.id, name_ja: '五社目', name_latin: 'Fifth', role: 'admin' }];
    expect(jwtClaims(tokens.id_token).companies).toEqual(expected);
    expect((await userinfo(h.issuer, tokens.access_token)).body.companies).toEqual(expected);

    await api.call('DELETE', `/companies/${company.id}/members/${user.id}`);
    expect((await userinfo(h.issuer, tokens.access_token)).body.companies).toEqual([]);

    const withoutScope = await rpSignIn(new HttpClient(), h.issuer, rp, user.email, TEST_PASSWORD);
    expect((await userinfo(h.issuer, withoutScope.access_token)).body).not.toHaveProperty('companies');
  });
  it('invites through the API (C4): mails a link per address, lists them with status, resends and revokes', async () => {
    const company = await api.call<Company>('POST', '/companies', {
      body: { name_ja: '招待', name_latin: 'Invite Co' },
    });
    const member = await registerUser(h.app, { email: `member-${tag}@invite.example.jp` });
    await api.call('POST', `/companies/${company.body.id}/members`, {
      body: { account: member.email, role: 'member' },
    });
    const emails = [`one-${tag}@invite.example.jp`, `two-${tag}@invite.example.jp`];
    const invited = await api.call<{
      invitations: { id: string; email: string; status: string }[];
      already_members: string[];
    }>('POST', `/companies/${company.body.id}/invitations`, {
      body: { emails: [...emails, member.email], locale: 'en' },
    });
    expect(invited.status).toBe(201);
    expect(invited.body.invitations.map((i) => [i.email, i.status]).sort()).toEqual(emails.map((e) => [e, 'pending']));
    expect(invited.body.already_members).toEqual([member.email]);
    const mail = await h.mail.waitFor(emails[0]!);
    expect(mail.subject).toContain('Invite Co');
    const link = /(http:\/\/\S+\/signup\/invitation\/[\w-]{22})/.exec(mail.text)?.[1];
    expect((await new HttpClient().request(link!)).status).toBe(200);

    const [first, second] = invited.body.invitations.sort((a, b) => a.email.localeCompare(b.email));
    expect((await api.call('DELETE', `/companies/${company.body.id}/invitations/${first!.id}`)).status).toBe(204);
    expect((await api.call('DELETE', `/companies/${company.body.id}/invitations/${first!.id}`)).status).toBe(409);
    const resent = await api.call<{ status: string }>(
      'POST',
      `/companies/${company.body.id}/invitations/${second!.id}/resend`,
    );
    expect(resent.status).toBe(200);
    const list = await api.call<Page<{ email: string; status: string }>>(
      'GET',
      `/companies/${company.body.id}/invitations`,
    );
    expect(list.body.items.map((i) => [i.email, i.status]).sort()).toEqual([
      [emails[0], 'revoked'],
      [emails[1], 'pending'],
    ]);
    const tooMany = await api.call('POST', `/companies/${company.body.id}/invitations`, {
      body: { emails: Array.from({ length: 501 }, (_, i) => `x${i}-${tag}@invite.example.jp`) },
    });
    expect(tooMany.status).toBe(400);
    const audit = await h.app.db
      .selectFrom('audit_events')
      .select(['type', 'actor'])
      .where('company_id', '=', company.body.id)
      .where('type', 'like', 'company.invit%')
      .execute();
    expect(audit.map((e) => e.type).sort()).toEqual([
      'company.invitation_resent',
      'company.invitation_revoked',
      'company.invited',
      'company.invited',
    ]);
    expect(new Set(audit.map((e) => e.actor)).size).toBe(1);
  });
});

function randomUuid(): string {
  return '00000000-0000-4000-8000-000000000000';
}
