/**
 * Company domains proven by DNS (issue 15): a real DNS server on loopback answers Monban's TXT
 * lookups (companies.dnsServers), and only verified domains count.
 */
import { randomBytes } from 'node:crypto';
import { accountRow, startAccountHarness, type AccountHarness } from '../../helpers/account.js';
import { AdminApiClient, registerAdminClient } from '../../helpers/admin-api.js';
import { TestDnsServer } from '../../helpers/dns-server.js';
import { HttpClient } from '../../helpers/http-client.js';
import { accountsFor, enterCode, signUp, signUpFields } from '../../helpers/signup-pages.js';
import { codeIn } from '../../helpers/smtp.js';
import { recheckDomains } from '../../../src/identity/companies/verification.js';

interface Domain {
  domain: string;
  verified: boolean;
  join_policy: string;
  txt_record: { name: string; type: string; value: string };
}
interface Company {
  id: string;
  domains: Domain[];
}

describe('company domains proven by DNS', () => {
  let h: AccountHarness;
  let api: AdminApiClient;
  const dns = new TestDnsServer();

  beforeAll(async () => {
    await dns.start();
    h = await startAccountHarness({
      companies: { dnsServers: [dns.address], dnsTimeoutMs: 2000, recheckHours: 1 },
      registration: { perIp: { points: 1000, durationSeconds: 3600 } },
    });
    api = new AdminApiClient(h.issuer);
    await api.loadDocument();
    await api.authenticate(await registerAdminClient(h.app));
  });
  afterAll(async () => {
    await h?.close();
    await dns.stop();
  });

  async function companyWithDomain(): Promise<{ company: Company; domain: Domain }> {
    const name = `kaisha-${randomBytes(4).toString('hex')}.example.jp`;
    const company = (
      await api.call<Company>('POST', '/companies', {
        body: { name_ja: '会社', name_latin: 'Kaisha', domains: [name] },
      })
    ).body;
    return { company, domain: company.domains[0]! };
  }

  const verify = (company: Company, domain: string) =>
    api.call<Domain & { code?: string }>('POST', `/companies/${company.id}/domains/${domain}/verify`);

  it('verifies a domain whose TXT record carries the token; the record is among others', async () => {
    const { company, domain } = await companyWithDomain();
    expect(domain.txt_record).toEqual({
      name: domain.domain,
      type: 'TXT',
      value: expect.stringMatching(/^monban-verification=[0-9a-f]{32}$/) as unknown,
    });
    dns.setTxt(domain.domain, 'v=spf1 -all', domain.txt_record.value);
    const res = await verify(company, domain.domain);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ domain: domain.domain, verified: true });
    const shown = await api.call<Company>('GET', `/companies/${company.id}`);
    expect(shown.body.domains[0]?.verified).toBe(true);
    const events = await h.app.db
      .selectFrom('audit_events')
      .select(['type', 'details'])
      .where('company_id', '=', company.id)
      .orderBy('id')
      .execute();
    expect(events.at(-1)).toMatchObject({ type: 'company.domain_verified', details: { domain: domain.domain } });
  });

  it('does not verify a domain whose record has another token, or that has no record', async () => {
    const { company, domain } = await companyWithDomain();
    dns.setTxt(domain.domain, `monban-verification=${'0'.repeat(32)}`);
    const wrong = await verify(company, domain.domain);
    expect([wrong.status, wrong.body.code]).toEqual([409, 'DOMAIN_NOT_VERIFIED']);

    const other = await companyWithDomain();
    const none = await verify(other.company, other.domain.domain);
    expect([none.status, none.body.code]).toEqual([409, 'DOMAIN_NOT_VERIFIED']);
    const shown = await api.call<Company>('GET', `/companies/${other.company.id}`);
    expect(shown.body.domains[0]?.verified).toBe(false);
  });

  it('stops counting a domain whose record was removed later, at the next check', async () => {
    const { company, domain } = await companyWithDomain();
    dns.setTxt(domain.domain, domain.txt_record.value);
    expect((await verify(company, domain.domain)).body.verified).toBe(true);
    dns.setTxt(domain.domain);
    // The periodic re-check looks at domains not checked for recheckHours.
    await h.app.db
      .updateTable('company_domains')
      .set({ checked_at: new Date(Date.now() - 2 * 3600_000) })
      .where('domain', '=', domain.domain)
      .execute();
    await recheckDomains(h.app.db, h.app.domainVerifier, 1);
    const shown = await api.call<Company>('GET', `/companies/${company.id}`);
    expect(shown.body.domains[0]?.verified).toBe(false);
  });

  it('lets only one company verify a domain', async () => {
    const { company, domain } = await companyWithDomain();
    dns.setTxt(domain.domain, domain.txt_record.value);
    await verify(company, domain.domain);
    const rival = (await api.call<Company>('POST', '/companies', { body: { name_ja: '他社', name_latin: 'Rival' } }))
      .body;
    const claimed = await api.call<{ code: string }>('POST', `/companies/${rival.id}/domains`, {
      body: { domain: domain.domain },
    });
    expect([claimed.status, claimed.body.code]).toEqual([409, 'DOMAIN_TAKEN']);
  });

  it('a sign-up in a verified domain joins the company when its policy is auto, not when invitation only', async () => {
    const { company, domain } = await companyWithDomain();
    dns.setTxt(domain.domain, domain.txt_record.value);
    await verify(company, domain.domain);

    const signUpAt = async (email: string) => {
      const browser = new HttpClient({ 'accept-language': 'en' });
      const res = await signUp(browser, h.issuer, signUpFields(email));
      expect(res.status).toBe(303);
      const page = await browser.follow(res.location!);
      await h.mail.waitFor(email, () => h.mail.mailsTo(email).length > 0);
      const done = await enterCode(browser, page, codeIn(h.mail.mailsTo(email)[0]!));
      expect(done.status).toBe(200);
      const [account] = await accountsFor(h.app, email);
      expect(account?.status).toBe('active');
      return account!;
    };
    const invitationOnly = await signUpAt(`first@${domain.domain}`);
    expect(invitationOnly.company_managed).toBe(false);

    const changed = await api.call<Domain>('PATCH', `/companies/${company.id}/domains/${domain.domain}`, {
      body: { join_policy: 'auto' },
    });
    expect(changed.body.join_policy).toBe('auto');
    const joined = await signUpAt(`second@${domain.domain}`);
    expect((await accountRow(h.app, joined.id)).company_managed).toBe(true);
    const members = await api.call<{ items: { email: string; role: string }[] }>(
      'GET',
      `/companies/${company.id}/members`,
    );
    expect(members.body.items).toEqual([expect.objectContaining({ email: `second@${domain.domain}`, role: 'member' })]);

    // An unverified domain with the same policy lets nobody in.
    const unverified = await companyWithDomain();
    await api.call('PATCH', `/companies/${unverified.company.id}/domains/${unverified.domain.domain}`, {
      body: { join_policy: 'auto' },
    });
    expect((await signUpAt(`third@${unverified.domain.domain}`)).company_managed).toBe(false);
  });

  it('gives up a domain; every success of the companies API is documented and was seen', async () => {
    const { company, domain } = await companyWithDomain();
    expect((await api.call('DELETE', `/companies/${company.id}/domains/${domain.domain}`)).status).toBe(204);
    expect((await api.call('DELETE', `/companies/${company.id}/domains/${domain.domain}`)).status).toBe(404);
    const added = await api.call<Domain>('POST', `/companies/${company.id}/domains`, {
      body: { domain: domain.domain },
    });
    expect(added.status).toBe(201);
    const companySuccesses = api
      .documentedSuccesses()
      .filter((s) => s.includes('/companies') && !s.includes('/members') && !s.startsWith('GET /companies 200'));
    for (const success of companySuccesses.filter((s) => s.includes('/domains'))) expect(api.seen).toContain(success);
  });
});
