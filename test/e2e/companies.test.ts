/**
 * End to end companies (issue 15, C4 and M3) in a real Chromium, against the app on PostgreSQL
 * and Redis, a real DNS server on loopback (the company's domains are verified by their TXT
 * records) and a real SMTP server. Once per language:
 * - a company admin invites a person from /company/{id}/invitations (with the admin's password);
 *   the person opens the link of the invitation mail, signs up with the address fixed and no
 *   activation code, and logs in at a relying party (openid-client), which sees the address and
 *   the membership (the `companies` claim);
 * - the admin changes a member's address on the member's row of /company/{id}; the member's
 *   login stops at the code step for the new address (shown masked) and goes nowhere without the
 *   code from the mail to the new address; a wrong code is refused; with the right one the login
 *   goes on to the RP, which sees the new address.
 * Texts come from views/locales (messageText), as the pages and mails show them.
 */
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { startAccountHarness, type AccountHarness } from '../helpers/account.js';
import { startWithBrowser, RpBrowser } from '../helpers/browser.js';
import { TestDnsServer } from '../helpers/dns-server.js';
import { messageText, registerClient, registerUser, RP_CALLBACK, TEST_PASSWORD } from '../helpers/fixtures.js';
import { RelyingParty } from '../helpers/rp.js';
import { SIGNUP_PASSWORD } from '../helpers/signup-pages.js';
import { codeIn, type CaughtMail } from '../helpers/smtp.js';
import { addDomain, createCompany, setMembership } from '../../src/identity/companies/service.js';
import { verifyDomain } from '../../src/identity/companies/verification.js';

const RP_ORIGIN = new URL(RP_CALLBACK).origin;
const JOURNEY_TIMEOUT_MS = 60_000;
const COMPANY = { name_ja: '門番商事', name_latin: 'Monban Shoji' };

type Lang = 'ja' | 'en';
const LOCALE: Record<Lang, string> = { ja: 'ja-JP', en: 'en-US' };

describe('companies end to end in a real browser (issue 15: invitations, address changes)', () => {
  let h: AccountHarness;
  let browser: Browser;
  const dns = new TestDnsServer();
  const tag = randomBytes(4).toString('hex');
  const oldDomain = `kaisha-${tag}.example.jp`;
  const newDomain = `shinsha-${tag}.example.jp`;
  let companyId: string;
  let registered: Awaited<ReturnType<typeof registerClient>>;
  let rp: RelyingParty;
  const admins = {} as Record<Lang, { id: string; email: string }>;

  beforeAll(async () => {
    await dns.start();
    [h, browser] = await startWithBrowser(
      startAccountHarness({ companies: { dnsServers: [dns.address], dnsTimeoutMs: 2000 } }),
    );
    for (const lang of ['ja', 'en'] as const)
      admins[lang] = await registerUser(h.app, { email: `admin-${lang}-${tag}@${oldDomain}`, locale: lang });
    companyId = (await createCompany(h.app.db, { ...COMPANY, admins: [admins.ja.id, admins.en.id] }, { actor: 'cli' }))
      .id;
    // Both domains proven by their TXT records, looked up through the DNS server on loopback.
    for (const domain of [oldDomain, newDomain]) {
      const view = await addDomain(h.app.db, companyId, domain, { actor: 'cli' });
      dns.setTxt(domain, view.txt_record.value);
      expect((await verifyDomain(h.app.db, h.app.domainVerifier, companyId, domain, { actor: 'cli' })).verified).toBe(
        true,
      );
    }
    registered = await registerClient(h.app);
    rp = await RelyingParty.discover(h.issuer, registered.client_id, registered.client_secret!);
  }, JOURNEY_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.allSettled([browser?.close(), h?.close()]);
    await dns.stop();
  }, JOURNEY_TIMEOUT_MS);

  const companyName = (lang: Lang) => (lang === 'ja' ? COMPANY.name_ja : COMPANY.name_latin);

  /** The email and password steps of the login the page is on; stops on the page after the password. */
  async function logIn(b: RpBrowser, lang: Lang, email: string, password: string): Promise<void> {
    const t = (key: string) => messageText(lang, key);
    const { page } = b;
    await page.getByLabel(t('login.email'), { exact: true }).fill(email);
    await page.getByRole('button', { name: t('login.next'), exact: true }).click();
    const passwordInput = page.getByLabel(t('login.password'), { exact: true });
    await passwordInput.waitFor();
    expect(await b.htmlLang()).toBe(lang);
    expect(await b.heading()).toBe(t('login.heading'));
    expect(await page.locator('#login-email').innerText()).toBe(email);
    await passwordInput.fill(password);
    await page.getByRole('button', { name: t('login.submit'), exact: true }).click();
  }

  /** A browser of the admin's own, logged in to the console through the login pages. */
  async function adminBrowser(lang: Lang): Promise<RpBrowser> {
    const b = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: LOCALE[lang] });
    await b.page.goto(`${h.issuer}/account`);
    await logIn(b, lang, admins[lang].email, TEST_PASSWORD);
    await b.page.waitForURL(`${h.issuer}/account`);
    return b;
  }

  /** The consent page lists what the RP asked for; Allow sends the browser to the RP's callback. */
  async function allow(b: RpBrowser, lang: Lang, scopes: string[]): Promise<URL> {
    const allowButton = b.page.getByRole('button', { name: messageText(lang, 'consent.allow'), exact: true });
    await allowButton.waitFor();
    expect(await b.htmlLang()).toBe(lang);
    expect(await b.heading()).toBe(messageText(lang, 'consent.heading', { client: 'Test RP' }));
    expect(await b.page.locator('ul.scopes li').allInnerTexts()).toEqual(
      expect.arrayContaining(scopes.map((scope) => messageText(lang, `consent.scopes.${scope}`))),
    );
    await allowButton.click();
    return b.waitForRp(RP_CALLBACK);
  }

  /** The notice a company page shows after an action (role=status). */
  const doneNotice = (page: Page) => page.locator('#done[role=status]').innerText();

  describe.each<Lang>(['ja', 'en'])('%s', (lang) => {
    const t = (key: string, params: Record<string, string | number> = {}) => messageText(lang, key, params);

    it(
      'an admin invites a person, who signs up from the mailed link without a code and logs in at the RP as a member',
      async () => {
        const email = `hanako.sato-${lang}-${tag}@${oldDomain}`;
        const admin = await adminBrowser(lang);
        const invitee = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: LOCALE[lang] });
        try {
          // 1. The invitations page: one address and the admin's own password.
          const { page } = admin;
          await page.goto(`${h.issuer}/company/${companyId}/invitations`);
          expect(await admin.htmlLang()).toBe(lang);
          expect(await admin.heading()).toBe(t('company.invitations'));
          const inviteForm = page.locator('#invite-section form');
          await inviteForm.getByLabel(t('company.inviteEmails'), { exact: true }).fill(email);
          await inviteForm.getByLabel(t('account.currentPassword'), { exact: true }).fill(TEST_PASSWORD);
          await inviteForm.getByRole('button', { name: t('company.inviteButton'), exact: true }).click();
          await page.locator('#done').waitFor();
          expect(await doneNotice(page)).toBe(t('company.done.invited'));
          const listed = page.locator(`#invitations li[data-email="${email}"]`);
          expect(await listed.getAttribute('data-status')).toBe('pending');
          expect(await listed.locator('p.hint').innerText()).toContain(t('company.invitationStatus.pending'));

          // 2. The mail, in the admin's language, with the link.
          const mail = await h.mail.waitFor(email);
          expect(mail.subject).toBe(t('emails.invitation.subject', { company: companyName(lang) }));
          const link = /(http:\/\/\S+\/signup\/invitation\/[\w-]+)/.exec(mail.text)?.[1];
          expect(link?.startsWith(`${h.issuer}/signup/invitation/`)).toBe(true);

          // 3. The link: the sign-up form with the address fixed and the company named.
          const form = invitee.page;
          await form.goto(link!);
          expect(await invitee.htmlLang()).toBe(lang);
          expect(await invitee.heading()).toBe(t('signup.heading'));
          expect(await form.locator('#invitation[role=status]').innerText()).toBe(
            t('invitation.intro', { company: companyName(lang) }),
          );
          const fixed = form.getByLabel(t('signup.email'), { exact: true });
          expect(await fixed.inputValue()).toBe(email);
          expect(await fixed.getAttribute('readonly')).not.toBeNull();
          expect(await form.locator('input[name=email], input[name=partner]').count()).toBe(0);
          await form.getByLabel(t('signup.password'), { exact: true }).fill(SIGNUP_PASSWORD);
          await form.getByLabel(t('signup.passwordConfirmation'), { exact: true }).fill(SIGNUP_PASSWORD);
          await form.getByLabel(t('signup.givenName'), { exact: true }).fill('Hanako');
          await form.getByLabel(t('signup.familyName'), { exact: true }).fill('Sato');
          await form.getByLabel(t('signup.country'), { exact: true }).selectOption('JP');
          await form.getByRole('button', { name: t('signup.register'), exact: true }).click();

          // 4. Ready at once: no activation code (the link proved the address).
          await form.locator('#login-link').waitFor();
          expect(await invitee.heading()).toBe(t('signup.activatedHeading'));
          expect(await form.locator('main p[role=status]').innerText()).toBe(
            t('invitation.activatedBody', { email, company: companyName(lang) }),
          );
          expect(h.mail.mailsTo(email)).toEqual([mail]);

          // 5. The admin's list says the invitation was accepted.
          await page.reload();
          expect(await listed.getAttribute('data-status')).toBe('accepted');

          // 6. The person logs in at an RP; the RP sees the address and the membership.
          const auth = await rp.authorizationRequest({
            redirect_uri: RP_CALLBACK,
            scope: 'openid email profile companies',
            ui_locales: lang,
          });
          await form.goto(auth.url.href);
          await logIn(invitee, lang, email, SIGNUP_PASSWORD);
          const callback = await allow(invitee, lang, ['email', 'profile', 'companies']);
          const tokens = await rp.redeem(callback, auth);
          const idToken = tokens.claims()!;
          expect(idToken).toMatchObject({ email, email_verified: true });
          const info = await rp.userinfo(tokens.access_token, idToken.sub);
          expect(info.companies).toEqual([{ id: companyId, ...COMPANY, role: 'member' }]);
          expect([...admin.pageErrors, ...invitee.pageErrors]).toEqual([]);
        } finally {
          await Promise.allSettled([admin.close(), invitee.close()]);
        }
      },
      JOURNEY_TIMEOUT_MS,
    );

    it(
      'an admin changes a member’s address; the member’s login waits for the code from the new address, then reaches the RP',
      async () => {
        const member = await registerUser(h.app, { email: `taro-${lang}-${tag}@${oldDomain}`, locale: lang });
        await setMembership(h.app.db, companyId, member.id, 'member', { actor: 'cli' });
        const newLocal = `taro.yamamoto-${lang}-${tag}`;
        const newEmail = `${newLocal}@${newDomain}`;
        const admin = await adminBrowser(lang);
        const memberBrowser = await RpBrowser.open(browser, { rpOrigin: RP_ORIGIN, locale: LOCALE[lang] });
        try {
          // 1. The member's row on the company page: the address-change form, with the admin's password.
          const { page } = admin;
          await page.goto(`${h.issuer}/company/${companyId}`);
          expect(await admin.htmlLang()).toBe(lang);
          expect(await page.locator('#company-name').innerText()).toBe(companyName(lang));
          const row = page.locator(`#members li[data-email="${member.email}"]`);
          expect(await row.getAttribute('data-status')).toBe('active');
          const details = row.locator('details.email-change');
          await details.locator('summary').click();
          await details.getByLabel(t('company.newEmail'), { exact: true }).fill(newEmail);
          await details.getByLabel(t('account.currentPassword'), { exact: true }).fill(TEST_PASSWORD);
          await details.getByRole('button', { name: t('company.changeEmail'), exact: true }).click();
          await page.locator('#done').waitFor();
          expect(await doneNotice(page)).toBe(t('company.done.email-change-started'));
          expect(await row.getAttribute('data-status')).toBe('on_hold');
          expect(await row.locator('p.hint').first().innerText()).toContain(t('company.onHold'));
          expect(await row.locator('.email-change-pending').innerText()).toContain(newEmail);

          // 2. A code to the new address, in the member's language.
          const codeMail = await h.mail.waitFor(newEmail, (m: CaughtMail) => /\b\d{6}\b/.test(m.text));
          expect(codeMail.subject).toBe(t('emails.emailChangeCode.subject'));
          const code = codeIn(codeMail);

          // 3. The member's login at the RP stops at the code step: the new address masked.
          const auth = await rp.authorizationRequest({
            redirect_uri: RP_CALLBACK,
            scope: 'openid email profile',
            ui_locales: lang,
          });
          const mp = memberBrowser.page;
          await mp.goto(auth.url.href);
          await logIn(memberBrowser, lang, member.email, TEST_PASSWORD);
          const codeInput = mp.getByLabel(t('login.emailChangeCode'), { exact: true });
          await codeInput.waitFor();
          expect(new URL(mp.url()).pathname).toMatch(/^\/interaction\/[^/]+\/email-change$/);
          expect(await memberBrowser.htmlLang()).toBe(lang);
          expect(await memberBrowser.heading()).toBe(t('login.emailChangeTitle'));
          const masked = `${newLocal.slice(0, 2)}…@${newDomain}`;
          expect(await mp.locator('#email-change-intro').innerText()).toBe(
            t('login.emailChangeIntro', { email: masked }),
          );
          expect(await mp.locator('main').innerText()).not.toContain(newEmail);

          // 4. A wrong code: refused, the tries left said; still on the code step, nothing at the RP.
          await codeInput.fill(code === '000000' ? '111111' : '000000');
          await mp.getByRole('button', { name: t('login.emailChangeSubmit'), exact: true }).click();
          const error = mp.locator('#form-error');
          await error.waitFor();
          expect(await error.innerText()).toBe(t('errors.CODE_WRONG', { attempts: 4 }));
          expect(await memberBrowser.heading()).toBe(t('login.emailChangeTitle'));
          expect(memberBrowser.rpVisits).toEqual([]);
          expect(
            await h.app.db
              .selectFrom('accounts')
              .select(['email', 'status'])
              .where('id', '=', member.id)
              .executeTakeFirstOrThrow(),
          ).toEqual({ email: member.email, status: 'on_hold' });

          // 5. The code from the mail: the login goes on to the RP, which sees the new address.
          await codeInput.fill(code);
          await mp.getByRole('button', { name: t('login.emailChangeSubmit'), exact: true }).click();
          const callback = await allow(memberBrowser, lang, ['email', 'profile']);
          const tokens = await rp.redeem(callback, auth);
          const idToken = tokens.claims()!;
          expect(idToken).toMatchObject({ sub: member.id, email: newEmail, email_verified: true });
          expect(await rp.userinfo(tokens.access_token, member.id)).toMatchObject({ email: newEmail });

          // 6. The admin's page shows the member at the new address, active again.
          await page.goto(`${h.issuer}/company/${companyId}`);
          const moved = page.locator(`#members li[data-email="${newEmail}"]`);
          expect(await moved.getAttribute('data-status')).toBe('active');
          expect(await page.locator(`#members li[data-email="${member.email}"]`).count()).toBe(0);
          expect([...admin.pageErrors, ...memberBrowser.pageErrors]).toEqual([]);
        } finally {
          await Promise.allSettled([admin.close(), memberBrowser.close()]);
        }
      },
      JOURNEY_TIMEOUT_MS,
    );
  });
});
