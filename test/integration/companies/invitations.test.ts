/**
 * C4 invitations (issue 15): a company admin invites by email from /company; the mailed link leads
 * through the sign-up form with the address fixed (no activation code) and the invitee joins the
 * company; an invitee with an account logs in and accepts. Expired, revoked and used links get a
 * clear page; a link is used once even when submitted twice at the same moment.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import {
  open,
  signedInUser,
  signInToAccount,
  startAccountHarness,
  type AccountHarness,
} from '../../helpers/account.js';
import { en, ja, messageText, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import {
  alertText,
  hiddenInputs,
  HttpClient,
  loginThroughPages,
  submitForm,
  type PageResponse,
} from '../../helpers/http-client.js';
import { formErrors, SIGNUP_PASSWORD, outboxFor } from '../../helpers/signup-pages.js';
import type { CaughtMail } from '../../helpers/smtp.js';
import { createCompany, setMembership } from '../../../src/identity/companies/service.js';

const LOOKUPS_PER_IP = 60;

describe('company invitations', () => {
  let h: AccountHarness;
  const tag = randomBytes(3).toString('hex');
  let companyId: string;
  let admin: { user: { id: string; email: string }; browser: HttpClient };

  beforeAll(async () => {
    h = await startAccountHarness({
      companies: { invitationLookupsPerIp: { points: LOOKUPS_PER_IP, durationSeconds: 600 } },
    });
    admin = await signedInUser(h, { email: `inv-admin-${tag}@kaisha.example.jp` });
    companyId = (
      await createCompany(
        h.app.db,
        { name_ja: '招待株式会社', name_latin: 'Shotai K.K.', admins: [admin.user.id] },
        { actor: 'cli' },
      )
    ).id;
  });
  afterAll(async () => {
    await h?.close();
  });

  const address = (name: string) => `${name}-${tag}@kaisha.example.jp`;
  const invitationsPage = () => open(admin.browser, h.issuer, `/company/${companyId}/invitations`);
  async function invite(emails: string, password = TEST_PASSWORD): Promise<PageResponse> {
    return submitForm(admin.browser, await invitationsPage(), `/company/${companyId}/invitations`, {
      emails,
      current_password: password,
    });
  }
  const linkIn = (mail: CaughtMail) => {
    const link = /(http:\/\/\S+\/signup\/invitation\/[\w-]{22})/.exec(mail.text)?.[1];
    if (!link) throw new Error(`no invitation link in "${mail.subject}"`);
    return link;
  };
  /** Invites one address through the page and returns the link of the mail it gets. */
  async function invited(email: string): Promise<string> {
    const before = h.mail.mailsTo(email).length;
    expect((await invite(email)).status).toBe(303);
    const mail = await h.mail.waitFor(email, () => h.mail.mailsTo(email).length > before);
    return linkIn(h.mail.mailsTo(email).at(-1) ?? mail);
  }
  const invitedSignUp = (browser: HttpClient, page: PageResponse, changes: Record<string, string> = {}) =>
    submitForm(browser, page, '/signup/invitation/', {
      password: SIGNUP_PASSWORD,
      password_confirmation: SIGNUP_PASSWORD,
      given_name: 'Aiko',
      family_name: 'Tanaka',
      country: 'JP',
      ...changes,
    });
  const membership = (email: string) =>
    h.app.db
      .selectFrom('company_memberships as m')
      .innerJoin('accounts as a', 'a.id', 'm.account_id')
      .select(['m.role', 'a.status', 'a.email_verified', 'a.company_managed'])
      .where('m.company_id', '=', companyId)
      .where('a.email', '=', email)
      .executeTakeFirst();
  const closedReason = (page: PageResponse) => /data-code="(\w+)"/.exec(page.body)?.[1];

  it('invites; the link signs the person up with the address fixed and no code; they are a member and log in', async () => {
    const email = address('new');
    const link = await invited(email);
    const mail = h.mail.mailsTo(email)[0]!;
    expect(mail.subject).toContain('Shotai K.K.');

    const browser = new HttpClient({ 'accept-language': 'en' });
    const form = await browser.request(link);
    expect(form.status).toBe(200);
    expect(form.body).toContain(`value="${email}" readonly`);
    expect(form.body).not.toContain('name="email"');
    expect(form.body).not.toContain('name="partner"');
    expect(form.body).toContain('Shotai K.K.');

    // The same checks as any sign-up: a weak password is refused with the form's messages.
    const weak = await invitedSignUp(browser, form, { password: 'short', password_confirmation: 'short' });
    expect(weak.status).toBe(400);
    expect(formErrors(weak.body)).toContain(en('errors.PASSWORD_TOO_SHORT'));

    const done = await invitedSignUp(browser, weak);
    expect(done.status).toBe(200);
    expect(done.body).toContain(en('invitation.activatedBody', { email, company: 'Shotai K.K.' }));
    expect(await membership(email)).toEqual({
      role: 'member',
      status: 'active',
      email_verified: true,
      company_managed: true,
    });
    // No activation code was mailed: the link proved the address.
    expect((await outboxFor(h.app, email)).map((m) => m.template)).toEqual(['invitation']);

    await signInToAccount(new HttpClient({ 'accept-language': 'en' }), h.issuer, email, SIGNUP_PASSWORD);

    const account = await h.app.db
      .selectFrom('accounts')
      .select('id')
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    const events = await h.app.db
      .selectFrom('audit_events')
      .select(['type', 'actor'])
      .where('company_id', '=', companyId)
      .where((eb) => eb.or([eb('account_id', '=', account.id), eb(sql`details->>'email'`, '=', email)]))
      .orderBy('id')
      .execute();
    expect(events).toEqual([
      { type: 'company.invited', actor: admin.user.id },
      { type: 'company.member_added', actor: account.id },
      { type: 'company.invitation_accepted', actor: account.id },
    ]);

    // Used once: the link now says so, in Japanese too.
    const again = await new HttpClient({ 'accept-language': 'ja' }).request(link);
    expect(again.status).toBe(410);
    expect(alertText(again.body)).toBe(ja('errors.INVITATION_USED'));
  });

  it('an invitee who has an account logs in and accepts, as the invited address only', async () => {
    const existing = await signedInUser(h, { email: address('existing') });
    const stranger = await signedInUser(h, { email: address('stranger') });
    const link = await invited(existing.user.email);

    const refused = await stranger.browser.follow(link);
    expect(refused.status).toBe(403);
    expect(alertText(refused.body)).toBe(en('errors.INVITATION_OTHER_ACCOUNT'));

    const toJoin = await existing.browser.request(link);
    expect(toJoin.status).toBe(303);
    expect(toJoin.location).toContain('/company/join/');
    const page = await existing.browser.follow(toJoin.location!);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Shotai K.K.');
    const accepted = await submitForm(existing.browser, page, '/company/join/', {});
    expect(accepted.status).toBe(200);
    expect(accepted.body).toContain(en('invitation.joined', { company: 'Shotai K.K.' }));
    expect((await membership(existing.user.email))?.role).toBe('member');
    expect((await existing.browser.request(link)).status).toBe(410);
  });

  it('an invitee with an account who is not logged in logs in from the link and comes back to accept', async () => {
    const user = await registerUser(h.app, { email: address('returning'), locale: 'en' });
    const link = await invited(user.email);
    const browser = new HttpClient({ 'accept-language': 'en' });
    const login = await loginThroughPages(browser, link, `${h.issuer}/account/callback`, {
      email: user.email,
      password: TEST_PASSWORD,
    });
    expect(login.location).toContain('/account/callback');
    const page = await browser.follow(login.location!);
    expect(page.url).toContain('/company/join/');
    expect(page.body).toContain(en('invitation.joinIntro', { company: 'Shotai K.K.', email: user.email }));
    expect((await submitForm(browser, page, '/company/join/', {})).status).toBe(200);
    expect((await membership(user.email))?.role).toBe('member');
  });

  it('an expired link and a withdrawn one get a clear page; sending again gives a new link', async () => {
    const late = address('late');
    const lateLink = await invited(late);
    await h.app.db
      .updateTable('company_invitations')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('email', '=', late)
      .execute();
    const expired = await new HttpClient({ 'accept-language': 'en' }).request(lateLink);
    expect(expired.status).toBe(410);
    expect(alertText(expired.body)).toBe(en('errors.INVITATION_EXPIRED'));
    const list = await invitationsPage();
    expect(list.body).toMatch(new RegExp(`data-email="${late}" data-status="expired"`));

    // Send again: a new link that works, the old one names nothing any more.
    const row = await h.app.db
      .selectFrom('company_invitations')
      .select('id')
      .where('email', '=', late)
      .executeTakeFirstOrThrow();
    const resent = await submitForm(admin.browser, list, `/invitations/${row.id}`, {
      current_password: TEST_PASSWORD,
      do: 'resend',
    });
    expect(resent.status).toBe(303);
    await h.mail.waitFor(late, () => h.mail.mailsTo(late).length === 2);
    const newLink = linkIn(h.mail.mailsTo(late)[1]!);
    expect(newLink).not.toBe(lateLink);
    expect((await new HttpClient().request(lateLink)).status).toBe(404);

    // Withdrawn (with the admin's password, audited with the admin as actor): the new link stops working.
    const withdrawn = await submitForm(admin.browser, await invitationsPage(), `/invitations/${row.id}`, {
      current_password: TEST_PASSWORD,
      do: 'revoke',
    });
    expect(withdrawn.status).toBe(303);
    const revoked = await new HttpClient({ 'accept-language': 'ja' }).request(newLink);
    expect(revoked.status).toBe(410);
    expect(closedReason(revoked)).toBe('INVITATION_REVOKED');
    expect(alertText(revoked.body)).toBe(ja('errors.INVITATION_REVOKED'));
    const audit = await h.app.db
      .selectFrom('audit_events')
      .select(['type', 'actor'])
      .where('company_id', '=', companyId)
      .where('type', 'in', ['company.invitation_resent', 'company.invitation_revoked'])
      .orderBy('id')
      .execute();
    expect(audit).toEqual([
      { type: 'company.invitation_resent', actor: admin.user.id },
      { type: 'company.invitation_revoked', actor: admin.user.id },
    ]);
  });

  it('a link submitted twice at the same moment makes exactly one account', async () => {
    const email = address('race');
    const link = await invited(email);
    const [a, b] = [new HttpClient(ENGLISH_HEADERS), new HttpClient(ENGLISH_HEADERS)];
    const [pageA, pageB] = await Promise.all([a.request(link), b.request(link)]);
    const answers = await Promise.all([invitedSignUp(a, pageA), invitedSignUp(b, pageB)]);
    expect(answers.map((r) => r.status).sort()).toEqual([200, 410]);
    const loser = answers.find((r) => r.status === 410)!;
    expect(closedReason(loser)).toBe('INVITATION_USED');
    const accounts = await h.app.db.selectFrom('accounts').select('id').where('email', '=', email).execute();
    expect(accounts).toHaveLength(1);
    const accepted = await h.app.db
      .selectFrom('audit_events')
      .select('id')
      .where('type', '=', 'company.invitation_accepted')
      .where('account_id', '=', accounts[0]!.id)
      .execute();
    expect(accepted).toHaveLength(1);
  });

  it('answers 403 to a member and to the admin of another company', async () => {
    const member = await signedInUser(h, { email: address('member') });
    await setMembership(h.app.db, companyId, member.user.id, 'member', { actor: 'cli' });
    const other = await signedInUser(h, { email: `other-${tag}@other.example.jp` });
    await createCompany(h.app.db, { name_ja: '他社', name_latin: 'Other', admins: [other.user.id] }, { actor: 'cli' });
    expect((await invite(address('pending'))).status).toBe(303);
    const pending = await h.app.db
      .selectFrom('company_invitations')
      .select('id')
      .where('company_id', '=', companyId)
      .where('accepted_at', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirstOrThrow();
    const before = await h.app.db.selectFrom('company_invitations').select('id').execute();
    for (const browser of [member.browser, other.browser]) {
      const csrf = hiddenInputs((await open(browser, h.issuer, '/account/personal')).body, '/account/personal');
      expect((await open(browser, h.issuer, `/company/${companyId}/invitations`)).status).toBe(403);
      const sent = await browser.request(`${h.issuer}/company/${companyId}/invitations`, {
        form: { ...csrf, current_password: TEST_PASSWORD, emails: address('sneaky') },
      });
      expect(sent.status).toBe(403);
      expect(alertText(sent.body)).toBe(messageText('en', 'errors.COMPANY_FORBIDDEN'));
      for (const action of ['resend', 'revoke']) {
        const res = await browser.request(`${h.issuer}/company/${companyId}/invitations/${pending.id}`, {
          form: { ...csrf, current_password: TEST_PASSWORD, do: action },
        });
        expect([action, res.status]).toEqual([action, 403]);
      }
    }
    expect(await h.app.db.selectFrom('company_invitations').select('id').execute()).toHaveLength(before.length);
    const still = await h.app.db
      .selectFrom('company_invitations')
      .select('revoked_at')
      .where('id', '=', pending.id)
      .executeTakeFirstOrThrow();
    expect(still.revoked_at).toBeNull();
  });

  it('counts link lookups per IP before looking: past the limit even a good link is refused', async () => {
    const link = await invited(address('throttled'));
    const guesser = new HttpClient(ENGLISH_HEADERS);
    let status = 0;
    for (let i = 0; i <= LOOKUPS_PER_IP && status !== 429; i += 1) {
      status = (await guesser.request(`${h.issuer}/signup/invitation/${randomBytes(16).toString('base64url')}`)).status;
      if (status !== 429) expect(status).toBe(404);
    }
    expect(status).toBe(429);
    expect((await guesser.request(link)).status).toBe(429);
  });

  it('invites 500 pasted addresses at once and refuses 501 with a message', async () => {
    const many = Array.from({ length: 501 }, (_, i) => address(`bulk${i}`));
    const tooMany = await invite(many.join('\n'));
    expect(tooMany.status).toBe(400);
    expect(formErrors(tooMany.body)).toEqual([en('errors.INVITATIONS_TOO_MANY', { max: 500, count: 501 })]);
    expect(tooMany.body).toContain(many[500]); // the list is kept for the admin to split

    const started = Date.now();
    const ok = await invite(many.slice(0, 500).join(',\n'));
    expect(ok.status).toBe(303);
    const elapsed = Date.now() - started;
    const counted = async (table: 'company_invitations' | 'outbox', column: 'email' | 'recipient') =>
      Number(
        (
          await h.app.db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .where(column, 'like', `bulk%-${tag}@kaisha.example.jp`)
            .executeTakeFirstOrThrow()
        ).n,
      );
    expect(await counted('company_invitations', 'email')).toBe(500);
    expect(await counted('outbox', 'recipient')).toBe(500);
    const page = await open(admin.browser, h.issuer, `/company/${companyId}/invitations?done=invited`);
    expect(page.body).toContain(en('company.done.invited'));
    expect(elapsed).toBeLessThan(20_000);
  });
});

const ENGLISH_HEADERS = { 'accept-language': 'en' };
