/**
 * /company: a company admin claims a domain, is shown the TXT record to publish, and has Monban
 * look it up ("Check now") against a real DNS server on loopback; each step asks for the admin's
 * password and is audited with the admin as actor (issue 15).
 */
import { randomBytes } from 'node:crypto';
import { open, signedInUser, startAccountHarness, type AccountHarness } from '../../helpers/account.js';
import { TestDnsServer } from '../../helpers/dns-server.js';
import { en, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { hiddenInputs, submitForm, unescapeHtml, type PageResponse } from '../../helpers/http-client.js';
import { createCompany, setMembership } from '../../../src/identity/companies/service.js';

describe('company admin pages: domains proven by DNS', () => {
  let h: AccountHarness;
  const dns = new TestDnsServer();
  const tag = randomBytes(4).toString('hex');
  const domain = `page-${tag}.example.jp`;
  let companyId: string;
  let admin: Awaited<ReturnType<typeof signedInUser>>;

  beforeAll(async () => {
    await dns.start();
    h = await startAccountHarness({ companies: { dnsServers: [dns.address], dnsTimeoutMs: 2000 } });
    admin = await signedInUser(h, { email: `dom-admin-${tag}@a.example.com` });
    companyId = (
      await createCompany(h.app.db, { name_ja: '丁', name_latin: 'Tei', admins: [admin.user.id] }, { actor: 'cli' })
    ).id;
  });
  afterAll(async () => {
    await h?.close();
    await dns.stop();
  });

  const page = () => open(admin.browser, h.issuer, `/company/${companyId}`);
  const domainRow = () =>
    h.app.db.selectFrom('company_domains').selectAll().where('domain', '=', domain).executeTakeFirst();
  const checkNow = (on: PageResponse, password = TEST_PASSWORD) =>
    submitForm(admin.browser, on, '/domains/verify', { domain, current_password: password });

  it('adds a domain, shows its TXT record, and verifies it once the record is published', async () => {
    const wrong = await submitForm(admin.browser, await page(), '/domains', {
      domain,
      current_password: 'Wrong-Password-1!',
    });
    expect(wrong.status).toBe(401);
    expect(await domainRow()).toBeUndefined();
    const bad = await submitForm(admin.browser, await page(), '/domains', {
      domain: 'not a domain',
      current_password: TEST_PASSWORD,
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain(en('errors.DOMAIN_INVALID'));

    const added = await submitForm(admin.browser, await page(), '/domains', {
      domain: domain.toUpperCase(),
      current_password: TEST_PASSWORD,
    });
    expect(added.status).toBe(303);
    const row = await domainRow();
    expect(row?.company_id).toBe(companyId);
    const shown = await admin.browser.follow(new URL(added.location!, h.issuer).toString());
    expect(shown.body).toContain(en('company.done.domain-added'));
    const record = shown.body.match(/<code class="txt-record">([^<]+)<\/code>/)?.[1];
    expect(unescapeHtml(record ?? '')).toBe(`monban-verification=${row!.verification_token}`);

    // Not published yet: "Check now" says so and the domain stays unverified.
    const missing = await checkNow(shown);
    expect(missing.status).toBe(409);
    expect(unescapeHtml(missing.body)).toContain(en('errors.DOMAIN_NOT_VERIFIED'));
    expect((await domainRow())?.verified_at).toBeNull();
    // A wrong password looks nothing up.
    dns.setTxt(domain, 'v=spf1 -all', `monban-verification=${row!.verification_token}`);
    expect((await checkNow(await page(), 'Wrong-Password-1!')).status).toBe(401);
    expect((await domainRow())?.verified_at).toBeNull();

    const verified = await checkNow(await page());
    expect(verified.status).toBe(303);
    expect((await domainRow())?.verified_at).toBeInstanceOf(Date);
    const after = await admin.browser.follow(new URL(verified.location!, h.issuer).toString());
    expect(after.body).toContain(en('company.done.domain-verified'));
    expect(after.body).toMatch(new RegExp(`data-domain="${domain.replace(/\./g, '\\.')}" data-verified="true"`));

    const events = await h.app.db
      .selectFrom('audit_events')
      .select(['type', 'actor'])
      .where('company_id', '=', companyId)
      .where('type', 'like', 'company.domain%')
      .orderBy('id')
      .execute();
    expect(events).toEqual([
      { type: 'company.domain_added', actor: admin.user.id },
      { type: 'company.domain_verification_failed', actor: admin.user.id },
      { type: 'company.domain_verified', actor: admin.user.id },
    ]);
  });

  it('answers 403 to a member of the company', async () => {
    const member = await signedInUser(h, { email: `dom-member-${tag}@a.example.com` });
    await setMembership(h.app.db, companyId, member.user.id, 'member', { actor: 'cli' });
    const own = await open(member.browser, h.issuer, '/account/personal');
    const csrf = hiddenInputs(own.body, '/account/personal');
    for (const path of ['/domains', '/domains/verify']) {
      const res = await member.browser.request(`${h.issuer}/company/${companyId}${path}`, {
        form: { ...csrf, domain: `other-${tag}.example.jp`, current_password: TEST_PASSWORD },
      });
      expect([path, res.status]).toEqual([path, 403]);
    }
    expect(
      await h.app.db.selectFrom('company_domains').select('domain').where('company_id', '=', companyId).execute(),
    ).toEqual([{ domain }]);
  });
});
