/**
 * A company admin changes a member's address (issue 15, M3/M4): the account is on hold until the
 * member logs in with the old address and password and enters the code sent to the new address;
 * then the address changes, sessions and tokens are gone, and the account leaves companies whose
 * domains the new address is outside of. Against PostgreSQL, Redis, a real DNS server and SMTP.
 */
import { randomBytes } from 'node:crypto';
import {
  accountRow,
  isActive,
  open,
  openAndSubmit,
  rpSignIn,
  signInToAccount,
  userinfo,
  signedInUser,
  startAccountHarness,
  type AccountHarness,
} from '../../helpers/account.js';
import { AdminApiClient, directCli, registerAdminClient } from '../../helpers/admin-api.js';
import { proveDomain, TestDnsServer } from '../../helpers/dns-server.js';
import { en, ja, registerClient, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import {
  alertText,
  HttpClient,
  loginThroughPages,
  submitForm,
  unescapeHtml,
  type PageResponse,
} from '../../helpers/http-client.js';
import { followToRp, givesRpACode, redeemAtRp, rpLogin } from '../../helpers/mfa.js';
import { codeIn, type CaughtMail } from '../../helpers/smtp.js';
import { authorizationUrl, RP_CALLBACK } from '../../helpers/fixtures.js';
import { createCompany, setMembership } from '../../../src/identity/companies/service.js';

const MAX_ATTEMPTS = 5;
const PER_ACCOUNT = 20;

describe('email change by a company admin', () => {
  let h: AccountHarness;
  const dns = new TestDnsServer();
  const tag = randomBytes(4).toString('hex');
  const oldDomain = `old-${tag}.example.jp`;
  const newDomain = `new-${tag}.example.jp`;
  const otherDomain = `other-${tag}.example.jp`;
  let companyId: string;
  let otherCompanyId: string;
  let admin: Awaited<ReturnType<typeof signedInUser>>;
  let otherAdmin: Awaited<ReturnType<typeof signedInUser>>;
  let rp: Awaited<ReturnType<typeof registerClient>>;

  const verified = (company: string, domain: string) => proveDomain(h.app, dns, company, domain);

  beforeAll(async () => {
    await dns.start();
    h = await startAccountHarness({
      companies: { dnsServers: [dns.address], dnsTimeoutMs: 2000 },
      codes: {
        digits: 6,
        ttlSeconds: 600,
        maxAttempts: MAX_ATTEMPTS,
        attemptsPerAccount: { points: PER_ACCOUNT, durationSeconds: 86400 },
      },
    });
    admin = await signedInUser(h, { email: `admin-${tag}@${oldDomain}` });
    companyId = (
      await createCompany(
        h.app.db,
        { name_ja: '門番商事', name_latin: 'Monban Shoji', admins: [admin.user.id] },
        {
          actor: 'cli',
        },
      )
    ).id;
    await verified(companyId, oldDomain);
    await verified(companyId, newDomain);
    otherAdmin = await signedInUser(h, { email: `admin-${tag}@${otherDomain}` });
    otherCompanyId = (
      await createCompany(
        h.app.db,
        { name_ja: '別会社', name_latin: 'Betsu', admins: [otherAdmin.user.id] },
        {
          actor: 'cli',
        },
      )
    ).id;
    await verified(otherCompanyId, otherDomain);
    rp = await registerClient(h.app);
  });
  afterAll(async () => {
    await h?.close();
    await dns.stop();
  });

  /** A member of the company at the old domain, English-speaking. */
  async function newMember(name: string, locale: 'ja' | 'en' = 'en') {
    const user = await registerUser(h.app, { email: `${name}-${tag}@${oldDomain}`, locale });
    await setMembership(h.app.db, companyId, user.id, 'member', { actor: 'cli' });
    return user;
  }

  const membersPage = (browser = admin.browser, company = companyId) =>
    open(browser, h.issuer, `/company/${company}?lang=en`);

  /** The admin's address-change form on the member's row, submitted. */
  async function changeEmail(
    memberId: string,
    newEmail: string,
    options: { browser?: HttpClient; company?: string; password?: string } = {},
  ): Promise<PageResponse> {
    const browser = options.browser ?? admin.browser;
    const company = options.company ?? companyId;
    // Another company's admin has no page of this company: the form is posted from their own page.
    const page = await membersPage(browser, options.company === undefined ? companyId : company);
    return browser.request(`${h.issuer}/company/${companyId}/members/${memberId}?change-email`, {
      form: {
        ...hiddenFormFields(page),
        do: 'change-email',
        new_email: newEmail,
        current_password: options.password ?? TEST_PASSWORD,
      },
    });
  }
  const hiddenFormFields = (page: PageResponse) => ({
    _csrf: page.body.match(/name="_csrf" value="([^"]*)"/)?.[1] ?? '',
  });

  const codeMail = (to: string, after = 0): Promise<CaughtMail> =>
    h.mail.waitFor(to, (m) => h.mail.mails.indexOf(m) >= after && /\b\d{6}\b/.test(m.text));

  /** The login of an RP with the address and password: the page it stops on (the code step for a held change). */
  async function loginAt(email: string, password = TEST_PASSWORD) {
    const browser = new HttpClient({ 'accept-language': 'en' });
    const auth = authorizationUrl(h.issuer, rp.client_id);
    const page = await loginThroughPages(browser, auth.url, RP_CALLBACK, { email, password });
    return { browser, auth, page };
  }
  const isCodeStep = (page: PageResponse) => /\/interaction\/[^/]+\/email-change/.test(page.url);

  const submitCode = (browser: HttpClient, page: PageResponse, code: string) =>
    submitForm(browser, page, '/email-change', { code });

  it('puts the member on hold, mails a code to the new address and a notice to the old one, audited with the admin', async () => {
    const member = await newMember('ichiro');
    const memberConsole = new HttpClient({ 'accept-language': 'en' });
    const tokens = await rpSignIn(memberConsole, h.issuer, rp, member.email, TEST_PASSWORD, {
      scope: 'openid email offline_access',
      prompt: 'consent',
    });
    const newEmail = `ichiro.suzuki-${tag}@${newDomain}`;
    const mailsBefore = h.mail.mails.length;

    const res = await changeEmail(member.id, newEmail);
    expect(res.status).toBe(303);
    const done = await admin.browser.follow(new URL(res.location!, h.issuer).toString());
    expect(unescapeHtml(done.body)).toContain(en('company.done.email-change-started'));
    expect(unescapeHtml(done.body)).toContain(newEmail);

    expect((await accountRow(h.app, member.id)).status).toBe('on_hold');
    expect((await accountRow(h.app, member.id)).email).toBe(member.email);
    // The hold ended what the member had: the RP's refresh token is no longer active.
    expect(await isActive(h.issuer, rp, tokens.refresh_token!)).toBe(false);

    const code = codeMail(newEmail, mailsBefore);
    const notice = h.mail.waitFor(member.email, (m) => h.mail.mails.indexOf(m) >= mailsBefore);
    expect((await code).subject).toBe(en('emails.emailChangeCode.subject', { product: 'Monban' }));
    expect((await notice).text).toContain(newEmail);
    expect((await notice).text).not.toMatch(/\b\d{6}\b/);

    const [event] = await h.app.db
      .selectFrom('audit_events')
      .select(['actor', 'company_id', 'details'])
      .where('account_id', '=', member.id)
      .where('type', '=', 'account.email_change_started')
      .execute();
    expect(event).toMatchObject({ actor: admin.user.id, company_id: companyId });
    expect(event?.details).toMatchObject({ from: member.email, to: newEmail });
  });

  it('refuses a new address outside the verified domains, one taken, and a member outside them; nothing changes', async () => {
    const member = await newMember('jiro');
    const outside = await changeEmail(member.id, `jiro@unverified-${tag}.example.jp`);
    expect(outside.status).toBe(400);
    expect(alertText(outside.body) ?? unescapeHtml(outside.body)).toContain(
      en('errors.EMAIL_CHANGE_DOMAIN_NOT_VERIFIED'),
    );
    const taken = await changeEmail(member.id, admin.user.email);
    expect(taken.status).toBe(409);
    expect(unescapeHtml(taken.body)).toContain(en('errors.EMAIL_TAKEN'));
    const wrongPassword = await changeEmail(member.id, `jiro-${tag}@${newDomain}`, { password: 'Wrong-Password-1!' });
    expect(wrongPassword.status).toBe(401);

    // A member whose present address is not one of the company's domains.
    const stranger = await registerUser(h.app, { email: `saburo-${tag}@elsewhere-${tag}.example.com`, locale: 'en' });
    await setMembership(h.app.db, companyId, stranger.id, 'member', { actor: 'cli' });
    const foreign = await changeEmail(stranger.id, `saburo-${tag}@${newDomain}`);
    expect(foreign.status).toBe(409);
    expect(unescapeHtml(foreign.body)).toContain(en('errors.EMAIL_CHANGE_MEMBER_OUTSIDE'));

    for (const id of [member.id, stranger.id]) {
      expect((await accountRow(h.app, id)).status).toBe('active');
      expect(
        await h.app.db.selectFrom('email_changes').select('account_id').where('account_id', '=', id).execute(),
      ).toEqual([]);
    }
  });

  it('gives 403 to a member and to another company’s admin', async () => {
    const member = await newMember('shiro');
    const plain = await signedInUser(h, { email: `goro-${tag}@${oldDomain}` });
    await setMembership(h.app.db, companyId, plain.user.id, 'member', { actor: 'cli' });
    const pages = [
      [plain.browser, await open(plain.browser, h.issuer, '/account/security/password')],
      [otherAdmin.browser, await membersPage(otherAdmin.browser, otherCompanyId)],
    ] as const;
    for (const [browser, own] of pages) {
      const res = await browser.request(`${h.issuer}/company/${companyId}/members/${member.id}?change-email`, {
        form: {
          ...hiddenFormFields(own),
          do: 'change-email',
          new_email: `shiro-${tag}@${newDomain}`,
          current_password: TEST_PASSWORD,
        },
      });
      expect(res.status).toBe(403);
      expect(unescapeHtml(res.body)).toContain(en('errors.COMPANY_FORBIDDEN'));
    }
    expect((await accountRow(h.app, member.id)).status).toBe('active');
  });

  it('asks the held member for the code at login (masked address, ja and en); a wrong password is answered as for anyone', async () => {
    const member = await newMember('rokuro');
    const newEmail = `rokuro-${tag}@${newDomain}`;
    expect((await changeEmail(member.id, newEmail)).status).toBe(303);

    const wrong = await loginAt(member.email, 'Wrong-Password-1!');
    const nobody = await loginAt(`nobody-${tag}@${oldDomain}`, 'Wrong-Password-1!');
    expect(wrong.page.status).toBe(nobody.page.status);
    expect(alertText(wrong.page.body)).toBe(en('errors.LOGIN_FAILED'));
    expect(alertText(nobody.page.body)).toBe(en('errors.LOGIN_FAILED'));
    expect(isCodeStep(wrong.page)).toBe(false);

    const { browser, page } = await loginAt(member.email);
    expect(isCodeStep(page)).toBe(true);
    const body = unescapeHtml(page.body);
    expect(body).toContain(en('login.emailChangeTitle'));
    expect(body).toContain(`ro…@${newDomain}`);
    expect(body).not.toContain(newEmail);
    expect(body).not.toContain(en('errors.ACCOUNT_ON_HOLD'));
    const japanese = await browser.request(`${page.url.split('?')[0]}?lang=ja`);
    expect(japanese.status).toBe(200);
    expect(unescapeHtml(japanese.body)).toContain(ja('login.emailChangeTitle'));
    expect(unescapeHtml(japanese.body)).toContain(`ro…@${newDomain}`);
  });

  it('a wrong code says so with the tries left; the address stays; an expired code says it expired', async () => {
    const member = await newMember('shichiro');
    const newEmail = `shichiro-${tag}@${newDomain}`;
    const before = h.mail.mails.length;
    expect((await changeEmail(member.id, newEmail)).status).toBe(303);
    const code = codeIn(await codeMail(newEmail, before));
    const { browser, page } = await loginAt(member.email);
    const wrongCode = code === '000000' ? '111111' : '000000';
    const wrong = await submitCode(browser, page, wrongCode);
    expect(wrong.status).toBe(400);
    expect(alertText(wrong.body)).toBe(en('errors.CODE_WRONG', { attempts: MAX_ATTEMPTS - 1 }));
    expect((await accountRow(h.app, member.id)).email).toBe(member.email);

    await h.app.db
      .updateTable('email_changes')
      .set({ code_expires_at: new Date(Date.now() - 1000) })
      .where('account_id', '=', member.id)
      .execute();
    const expired = await submitCode(browser, wrong, code);
    expect(alertText(expired.body)).toBe(en('errors.CODE_EXPIRED'));
    expect((await accountRow(h.app, member.id)).status).toBe('on_hold');

    // The member asks for a new code on the page: it works, the old one does not.
    const mailsBefore = h.mail.mails.length;
    const resent = await submitForm(browser, expired, '/email-change/resend', {});
    expect(resent.status).toBe(303);
    const shown = await browser.follow(new URL(resent.location!, h.issuer).toString());
    expect(unescapeHtml(shown.body)).toContain(en('login.emailChangeResent'));
    const fresh = codeIn(await codeMail(newEmail, mailsBefore));
    const done = await submitCode(browser, shown, fresh);
    expect(done.status).toBe(303);
    expect((await accountRow(h.app, member.id)).email).toBe(newEmail);
  });

  it('50 parallel wrong codes: no more than the code’s tries are checked, and the code is used up', async () => {
    const member = await newMember('hachiro');
    const newEmail = `hachiro-${tag}@${newDomain}`;
    const before = h.mail.mails.length;
    expect((await changeEmail(member.id, newEmail)).status).toBe(303);
    const code = codeIn(await codeMail(newEmail, before));
    const { browser, page } = await loginAt(member.email);
    const wrongCode = code === '000000' ? '111111' : '000000';
    const answers = await Promise.all(Array.from({ length: 50 }, () => submitCode(browser, page, wrongCode)));
    expect(answers.every((a) => a.status === 400 || a.status === 429)).toBe(true);
    const wrongs = answers.filter((a) => alertText(a.body)?.startsWith('That code is not right')).length;
    expect(wrongs).toBeLessThanOrEqual(MAX_ATTEMPTS);
    // The daily cap counted first: at most its allowance reached the code at all.
    const throttled = answers.filter((a) => a.status === 429).length;
    expect(throttled).toBeGreaterThanOrEqual(50 - PER_ACCOUNT);
    const row = await h.app.db
      .selectFrom('email_changes')
      .select('code_attempts')
      .where('account_id', '=', member.id)
      .executeTakeFirstOrThrow();
    expect(row.code_attempts).toBe(MAX_ATTEMPTS);
    // The right code no longer helps: the tries are used up (or the daily cap says wait).
    const late = await submitCode(browser, page, code);
    expect(late.status).not.toBe(303);
    expect((await accountRow(h.app, member.id)).email).toBe(member.email);
  });

  it('the right code changes the address, ends the hold and old sessions, and the login goes on to the RP as the new address', async () => {
    const member = await newMember('kuro', 'ja');
    await setMembership(h.app.db, otherCompanyId, member.id, 'member', { actor: 'cli' });
    const oldSession = new HttpClient({ 'accept-language': 'en' });
    await rpSignIn(oldSession, h.issuer, rp, member.email, TEST_PASSWORD);
    const newEmail = `kuro.tanaka-${tag}@${newDomain}`;
    const before = h.mail.mails.length;
    expect((await changeEmail(member.id, newEmail)).status).toBe(303);
    const codeMessage = await codeMail(newEmail, before);
    // In the member's language (ja), whoever started it.
    expect(codeMessage.subject).toBe(ja('emails.emailChangeCode.subject', { product: 'Monban' }));

    const { browser, page, auth } = await loginAt(member.email);
    expect(isCodeStep(page)).toBe(true);
    const answer = await submitCode(browser, page, codeIn(codeMessage));
    expect(answer.status).toBe(303);
    const toRp = await followToRp(browser, answer);
    expect(givesRpACode(toRp)).toBe(true);
    const claims = await redeemAtRp(h.issuer, rp, toRp, auth.verifier);
    expect(claims.email).toBe(newEmail);

    const row = await accountRow(h.app, member.id);
    expect(row).toMatchObject({ email: newEmail, status: 'active' });
    expect(
      await h.app.db.selectFrom('email_changes').select('account_id').where('account_id', '=', member.id).execute(),
    ).toEqual([]);
    // The session from before the change is gone: the RP's login asks for the address again.
    const again = await oldSession.follow(authorizationUrl(h.issuer, rp.client_id).url, RP_CALLBACK);
    expect(givesRpACode(again)).toBe(false);

    const [changed] = await h.app.db
      .selectFrom('audit_events')
      .select(['details', 'company_id'])
      .where('account_id', '=', member.id)
      .where('type', '=', 'account.email_changed')
      .execute();
    expect(changed?.company_id).toBe(companyId);
    expect(changed?.details).toMatchObject({ from: member.email, to: newEmail });

    // M4: the other company's domains do not include the new address: that membership ended.
    const memberships = await h.app.db
      .selectFrom('company_memberships')
      .select('company_id')
      .where('account_id', '=', member.id)
      .execute();
    expect(memberships.map((m) => m.company_id)).toEqual([companyId]);
    const left = await h.app.db
      .selectFrom('audit_events')
      .select(['details'])
      .where('account_id', '=', member.id)
      .where('company_id', '=', otherCompanyId)
      .where('type', '=', 'company.member_removed')
      .execute();
    expect(left[0]?.details).toMatchObject({ reason: 'email_changed' });

    // The old address no longer logs in; the new one does.
    expect(alertText((await loginAt(member.email)).page.body)).toBe(en('errors.LOGIN_FAILED'));
    expect(givesRpACode(await followToRp(browser, (await rpLogin(h, rp, newEmail)).page))).toBe(true);

    // PW6 follows the address: on the console, a password with a piece of the new local part is refused.
    const console = new HttpClient({ 'accept-language': 'en' });
    await signInToAccount(console, h.issuer, newEmail);
    const refused = await openAndSubmit(console, h.issuer, '/account/security/password', '/account/security/password', {
      current_password: TEST_PASSWORD,
      password: 'Tanaka-Sora-2026!x',
      password_confirmation: 'Tanaka-Sora-2026!x',
    });
    expect(refused.status).toBe(400);
    expect(unescapeHtml(refused.body)).toContain(en('errors.PASSWORD_CONTAINS_EMAIL'));
  });

  it('leaving a company: a member whose new address is outside every domain of a company loses that company', async () => {
    // Company A verifies old and new domains; the member also belongs to the other company, whose
    // one verified domain is neither: after the change only A remains, and the companies claim says so.
    const member = await newMember('juro');
    await setMembership(h.app.db, otherCompanyId, member.id, 'admin', { actor: 'cli' });
    const newEmail = `juro-${tag}@${newDomain}`;
    const before = h.mail.mails.length;
    expect((await changeEmail(member.id, newEmail)).status).toBe(303);
    const { browser, page } = await loginAt(member.email);
    expect((await submitCode(browser, page, codeIn(await codeMail(newEmail, before)))).status).toBe(303);
    const tokens = await rpSignIn(new HttpClient(), h.issuer, rp, newEmail, TEST_PASSWORD, {
      scope: 'openid email companies',
    });
    const claims = (await userinfo(h.issuer, tokens.access_token)).body as { companies?: { id: string }[] };
    expect(claims.companies?.map((c) => c.id)).toEqual([companyId]);
    expect((await accountRow(h.app, member.id)).company_managed).toBe(true);
  });

  it('shows the pending change on the member list with a resend; the admin API starts, reads and resends one', async () => {
    const member = await newMember('kenji');
    const newEmail = `kenji-${tag}@${newDomain}`;
    expect((await changeEmail(member.id, newEmail)).status).toBe(303);
    const list = await membersPage();
    const row =
      list.body.match(new RegExp(`<li class="member" data-email="${member.email}"[\\s\\S]*?</li>`))?.[0] ?? '';
    expect(unescapeHtml(row)).toContain(newEmail);
    const before = h.mail.mails.length;
    const resend = await admin.browser.request(`${h.issuer}/company/${companyId}/members/${member.id}`, {
      form: { ...hiddenFormFields(list), do: 'resend-email-change', current_password: TEST_PASSWORD },
    });
    expect(resend.status).toBe(303);
    await codeMail(newEmail, before);

    const api = new AdminApiClient(h.issuer);
    await api.loadDocument();
    await api.authenticate(await registerAdminClient(h.app));
    const other = await newMember('kenzo');
    const outside = await api.call('POST', `/companies/${companyId}/members/${other.id}/email-change`, {
      body: { email: `kenzo@unverified-${tag}.example.jp` },
    });
    expect(outside.status).toBe(400);
    const started = await api.call<{ new_email: string; masked_email: string }>(
      'POST',
      `/companies/${companyId}/members/${other.id}/email-change`,
      { body: { email: `Kenzo-${tag}@${newDomain}` } },
    );
    expect(started.status).toBe(202);
    expect(started.body.new_email).toBe(`kenzo-${tag}@${newDomain}`);
    expect((await accountRow(h.app, other.id)).status).toBe('on_hold');
    const read = await api.call<{ new_email: string }>(
      'GET',
      `/companies/${companyId}/members/${other.id}/email-change`,
    );
    expect(read.status).toBe(200);
    const again = await api.call('POST', `/companies/${companyId}/members/${other.id}/email-change/resend`);
    expect(again.status).toBe(200);
    const elsewhere = await api.call('POST', `/companies/${otherCompanyId}/members/${other.id}/email-change/resend`);
    expect(elsewhere.status).toBe(404);
    for (const success of api.documentedSuccesses().filter((s) => s.includes('/email-change')))
      expect(api.seen).toContain(success);
  });

  it('the CLI (on the database) starts a change and mails the code again, audited as cli', async () => {
    const member = await newMember('cli');
    const cli = directCli(h.app);
    const run = ([command, ...args]: string[]) => cli(`company ${command}`, ...args);
    const newEmail = `cli-${tag}@${newDomain}`;
    const started = (await run(['change-email', companyId, '--email', member.email, '--new-email', newEmail])) as {
      new_email: string;
    };
    expect(started.new_email).toBe(newEmail);
    expect((await accountRow(h.app, member.id)).status).toBe('on_hold');
    await run(['resend-email-change', companyId, '--email', member.email]);
    const events = await h.app.db
      .selectFrom('audit_events')
      .select(['type', 'actor'])
      .where('account_id', '=', member.id)
      .where('type', 'like', 'account.email_change%')
      .orderBy('id')
      .execute();
    expect(events).toEqual([
      { type: 'account.email_change_started', actor: 'cli' },
      { type: 'account.email_change_resent', actor: 'cli' },
    ]);
    const outbox = await h.app.db.selectFrom('outbox').select('template').where('recipient', '=', newEmail).execute();
    expect(outbox.map((m) => m.template)).toEqual(['email-change-code', 'email-change-code']);
  });
});
