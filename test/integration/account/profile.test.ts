/**
 * PR2 personal and company information, PR7 communication preferences, M1 the read-only email
 * address: edits are saved, shown and audited; bad input gets a clear message and saves nothing.
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
import { en } from '../../helpers/fixtures.js';
import { expectNoInternals, HttpClient, inputValue } from '../../helpers/http-client.js';
import { formErrors, noticeText } from '../../helpers/signup-pages.js';

const LONG = 'x'.repeat(10_000);

/** The personal form's fields, filled in, with `changes` applied. */
function personal(changes: Record<string, string> = {}): Record<string, string> {
  return {
    given_name: 'Jiro',
    family_name: 'Suzuki',
    country: 'US',
    locale: 'en',
    zoneinfo: 'America/New_York',
    ...changes,
  };
}

function company(changes: Record<string, string> = {}): Record<string, string> {
  return {
    company_name: 'Kaisha KK',
    job_title: 'Engineer',
    address: '1-2-3 Marunouchi, Chiyoda-ku, Tokyo',
    business_phone: '',
    ...changes,
  };
}

describe('account console: profile and preferences (PR2, PR7, M1)', () => {
  let h: AccountHarness;
  beforeAll(async () => {
    h = await startAccountHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const savePersonal = (browser: HttpClient, fields: Record<string, string>) =>
    openAndSubmit(browser, h.issuer, '/account/personal', '/account/personal', fields);
  const saveCompany = (browser: HttpClient, fields: Record<string, string>) =>
    openAndSubmit(browser, h.issuer, '/account/company', '/account/company', fields);

  describe('personal information', () => {
    it('shows the email address read-only with the reason, and saves the rest', async () => {
      const { user, browser } = await signedInUser(h);
      const page = await open(browser, h.issuer, '/account/personal');
      expect(page.status).toBe(200);
      const emailInput = page.body.match(/<input id="email"[^>]*>/)?.[0] ?? '';
      expect(emailInput).toContain('readonly');
      expect(emailInput).toContain(`value="${user.email}"`);
      expect(emailInput).not.toContain('name=');
      expect(page.body).toContain(en('account.emailReadOnly'));
      expect(inputValue(page.body, 'given_name')).toBe('Hanako');

      // A forged email field is ignored.
      const answer = await savePersonal(browser, personal({ email: 'forged@evil.example' }));
      expect(answer.status).toBe(303);
      const saved = await landed(browser, answer);
      expect(saved.url).toBe(`${h.issuer}/account/personal?done=saved`);
      expect(noticeText(saved.body)).toBe(en('account.done.saved'));
      expect(inputValue(saved.body, 'given_name')).toBe('Jiro');
      expect(inputValue(saved.body, 'family_name')).toBe('Suzuki');
      expect(saved.body).toMatch(/<option value="US" selected>/);
      expect(saved.body).toMatch(/<option value="en" selected>/);
      expect(saved.body).toMatch(/<option value="America\/New_York" selected>/);
      expect(saved.body).toContain(`value="${user.email}"`);
      expect(saved.body).not.toContain('forged@evil.example');

      const row = await accountRow(h.app, user.id);
      expect(row).toMatchObject({
        email: user.email,
        given_name: 'Jiro',
        family_name: 'Suzuki',
        country: 'US',
        locale: 'en',
        zoneinfo: 'America/New_York',
      });
      expect(
        await h.app.db.selectFrom('accounts').select('id').where('email', '=', 'forged@evil.example').execute(),
      ).toEqual([]);
      expect(textOf((await open(browser, h.issuer, '/account')).body, 'account-email')).toBe(user.email);
      const audit = await h.app.db
        .selectFrom('audit_events')
        .select(['type', 'details'])
        .where('account_id', '=', user.id)
        .where('type', '=', 'profile.updated')
        .execute();
      expect(audit.map((a) => a.details)).toEqual([{ section: 'personal' }]);
    });

    it('shows names with HTML in them as text', async () => {
      const { user, browser } = await signedInUser(h);
      const given = '<script>alert(1)</script>';
      const family = '"><img src=x onerror=alert(2)>';
      const answer = await savePersonal(browser, personal({ given_name: given, family_name: family }));
      expect(answer.status).toBe(303);
      const row = await accountRow(h.app, user.id);
      expect(row.given_name).toBe(given);
      expect(row.family_name).toBe(family);

      const hub = await open(browser, h.issuer, '/account');
      expect(hub.body).not.toContain(given);
      expect(hub.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      const page = await open(browser, h.issuer, '/account/personal');
      expect(page.body).not.toContain(family);
      expect(page.body).not.toMatch(/<img src=x/);
      expect(page.body).toContain(
        'name="family_name" type="text" autocomplete="family-name" required maxlength="100" value="&quot;&gt;&lt;img src&#x3D;x onerror&#x3D;alert(2)&gt;"',
      );
    });

    it('refuses bad input with clear messages and saves nothing', async () => {
      const { user, browser } = await signedInUser(h);
      const before = await accountRow(h.app, user.id);
      const cases: { fields: Record<string, string>; errors: string[] }[] = [
        { fields: personal({ given_name: LONG }), errors: [en('errors.NAME_TOO_LONG')] },
        { fields: personal({ family_name: LONG }), errors: [en('errors.NAME_TOO_LONG')] },
        { fields: personal({ given_name: '  ' }), errors: [en('errors.NAME_REQUIRED')] },
        { fields: personal({ family_name: 'Suzuki\u0007' }), errors: [en('errors.NAME_INVALID')] },
        { fields: personal({ country: 'XX' }), errors: [en('errors.COUNTRY_REQUIRED')] },
        { fields: personal({ country: '' }), errors: [en('errors.COUNTRY_REQUIRED')] },
        { fields: personal({ locale: 'fr' }), errors: [en('errors.LOCALE_INVALID')] },
        { fields: personal({ zoneinfo: 'Mars/Olympus_Mons' }), errors: [en('errors.TIMEZONE_INVALID')] },
        {
          fields: personal({ given_name: LONG.slice(0, 3000), country: 'XX', locale: 'de', zoneinfo: 'Nowhere' }),
          errors: [
            en('errors.NAME_TOO_LONG'),
            en('errors.COUNTRY_REQUIRED'),
            en('errors.LOCALE_INVALID'),
            en('errors.TIMEZONE_INVALID'),
          ],
        },
      ];
      for (const { fields, errors } of cases) {
        const answer = await savePersonal(browser, fields);
        expect({ fields: Object.keys(fields), status: answer.status, errors: formErrors(answer.body) }).toEqual({
          fields: Object.keys(fields),
          status: 400,
          errors,
        });
        expectNoInternals(answer);
        // The form comes back with what was typed (a valid part included), to be corrected.
        expect(answer.body).toContain('action="/account/personal"');
      }
      const after = await accountRow(h.app, user.id);
      expect(after).toEqual(before);
      expect(await auditTypes(h.app, user.id)).not.toContain('profile.updated');
    });
  });

  describe('company information', () => {
    it('saves the company details and stores the business phone in E.164', async () => {
      const { user, browser } = await signedInUser(h);
      await savePersonal(browser, personal({ country: 'JP', zoneinfo: 'Asia/Tokyo' }));
      const answer = await saveCompany(browser, company({ business_phone: '03-1234-5678' }));
      expect(answer.status).toBe(303);
      const saved = await landed(browser, answer);
      expect(noticeText(saved.body)).toBe(en('account.done.saved'));
      expect(inputValue(saved.body, 'company_name')).toBe('Kaisha KK');
      expect(inputValue(saved.body, 'job_title')).toBe('Engineer');
      expect(inputValue(saved.body, 'business_phone')).toBe('+81312345678');
      expect(await accountRow(h.app, user.id)).toMatchObject({
        company_name: 'Kaisha KK',
        job_title: 'Engineer',
        address: '1-2-3 Marunouchi, Chiyoda-ku, Tokyo',
        business_phone: '+81312345678',
      });
      const audit = await h.app.db
        .selectFrom('audit_events')
        .select('details')
        .where('account_id', '=', user.id)
        .where('type', '=', 'profile.updated')
        .orderBy('id')
        .execute();
      expect(audit.map((a) => a.details)).toEqual([{ section: 'personal' }, { section: 'company' }]);

      // An international number is taken as typed; an empty one clears the field.
      await saveCompany(browser, company({ business_phone: '+1 212-555-0123' }));
      expect((await accountRow(h.app, user.id)).business_phone).toBe('+12125550123');
      await saveCompany(browser, company({ business_phone: '' }));
      expect((await accountRow(h.app, user.id)).business_phone).toBeNull();
    });

    it('refuses bad input with clear messages and saves nothing', async () => {
      const { user, browser } = await signedInUser(h);
      await savePersonal(browser, personal({ country: 'JP' }));
      await saveCompany(browser, company());
      const before = await accountRow(h.app, user.id);
      const cases: { fields: Record<string, string>; errors: string[] }[] = [
        { fields: company({ company_name: LONG }), errors: [en('errors.FIELD_TOO_LONG')] },
        { fields: company({ job_title: LONG }), errors: [en('errors.FIELD_TOO_LONG')] },
        { fields: company({ address: LONG }), errors: [en('errors.FIELD_TOO_LONG')] },
        {
          fields: company({ company_name: 'New Name KK', business_phone: 'call me' }),
          errors: [en('errors.PHONE_INVALID')],
        },
        { fields: company({ business_phone: '12' }), errors: [en('errors.PHONE_INVALID')] },
        { fields: company({ business_phone: LONG.slice(0, 500) }), errors: [en('errors.PHONE_INVALID')] },
      ];
      for (const { fields, errors } of cases) {
        const answer = await saveCompany(browser, fields);
        expect({ status: answer.status, errors: formErrors(answer.body) }).toEqual({ status: 400, errors });
        expectNoInternals(answer);
      }
      expect(await accountRow(h.app, user.id)).toEqual(before);
    });

    it('is read-only when the company manages it', async () => {
      const { user, browser } = await signedInUser(h);
      await saveCompany(browser, company());
      await h.app.db.updateTable('accounts').set({ company_managed: true }).where('id', '=', user.id).execute();
      const before = await accountRow(h.app, user.id);

      const page = await open(browser, h.issuer, '/account/company');
      expect(page.body).toContain(en('account.company.managed'));
      for (const name of ['company_name', 'job_title', 'address', 'business_phone']) {
        expect(page.body).toMatch(new RegExp(`<input[^>]*name="${name}"[^>]*readonly`));
      }
      expect(page.body).not.toContain(`>${en('account.save')}</button>`);

      const answer = await saveCompany(browser, company({ company_name: 'Sneaky KK' }));
      expect(answer.status).toBe(403);
      expect(formErrors(answer.body)).toEqual([en('errors.COMPANY_MANAGED')]);
      expectNoInternals(answer);
      expect(await accountRow(h.app, user.id)).toEqual(before);
      // The personal details stay the user's own.
      expect((await savePersonal(browser, personal())).status).toBe(303);
    });
  });

  describe('communication preferences', () => {
    it('keeps security notices always on and saves the product news opt-in', async () => {
      const { user, browser } = await signedInUser(h);
      const page = await open(browser, h.issuer, '/account/communication');
      expect(page.body).toContain(en('account.communication.security'));
      expect(page.body).toMatch(/<input type="checkbox" checked disabled>/);
      expect(page.body).not.toMatch(/id="product_news"[^>]*checked/);

      const on = await openAndSubmit(browser, h.issuer, '/account/communication', '/account/communication', {
        product_news: 'yes',
      });
      const saved = await landed(browser, on);
      expect(noticeText(saved.body)).toBe(en('account.done.saved'));
      expect(saved.body).toMatch(/id="product_news"[^>]*checked/);
      expect((await accountRow(h.app, user.id)).product_news).toBe(true);

      // Unticked: a browser sends no field at all.
      const off = await openAndSubmit(browser, h.issuer, '/account/communication', '/account/communication', {});
      expect((await landed(browser, off)).body).not.toMatch(/id="product_news"[^>]*checked/);
      expect((await accountRow(h.app, user.id)).product_news).toBe(false);
      const audit = await h.app.db
        .selectFrom('audit_events')
        .select('details')
        .where('account_id', '=', user.id)
        .where('type', '=', 'preferences.updated')
        .orderBy('id')
        .execute();
      expect(audit.map((a) => a.details)).toEqual([{ product_news: true }, { product_news: false }]);
    });
  });
});
