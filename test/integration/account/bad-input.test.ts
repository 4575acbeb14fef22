/**
 * The console's edges: signed-out visitors are sent to the login, forms need this browser's CSRF
 * token, oversize and malformed posts get a clear answer, and nothing ever shows internals or
 * saves half of anything.
 */
import {
  accountRow,
  auditTypes,
  csrfOf,
  ENGLISH,
  expectSentToLogin,
  open,
  signedInUser,
  startAccountHarness,
  type AccountHarness,
} from '../../helpers/account.js';
import { en, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { alertText, expectNoInternals, HttpClient } from '../../helpers/http-client.js';
import { formErrors, noticeText } from '../../helpers/signup-pages.js';

const PAGES = [
  '/account',
  '/account/personal',
  '/account/company',
  '/account/communication',
  '/account/security',
  '/account/security/password',
  '/account/security/phone',
  '/account/security/phone/verify',
];

/** Every form of the console and a submission that would change something if it were accepted. */
const FORMS: { path: string; fields: Record<string, string> }[] = [
  {
    path: '/account/personal',
    fields: { given_name: 'Forged', family_name: 'Name', country: 'JP', locale: 'en', zoneinfo: '' },
  },
  { path: '/account/company', fields: { company_name: 'Forged KK', job_title: '', address: '', business_phone: '' } },
  { path: '/account/communication', fields: { product_news: 'yes' } },
  {
    path: '/account/security/password',
    fields: {
      current_password: TEST_PASSWORD,
      password: 'Momiji-Yama-2027!',
      password_confirmation: 'Momiji-Yama-2027!',
    },
  },
  {
    path: '/account/security/phone',
    fields: { current_password: TEST_PASSWORD, country: 'JP', number: '090-1111-2222' },
  },
  { path: '/account/security/phone/verify', fields: { code: '123456' } },
  { path: '/account/security/phone/remove', fields: { current_password: TEST_PASSWORD } },
  { path: '/account/security/sessions/end', fields: { current_password: TEST_PASSWORD, session_id: 'x' } },
  { path: '/account/security/apps/revoke', fields: { current_password: TEST_PASSWORD, client_id: 'x' } },
  { path: '/account/logout', fields: {} },
];

describe('account console: signed-out visitors, CSRF and bad requests', () => {
  let h: AccountHarness;
  beforeAll(async () => {
    h = await startAccountHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('sends a signed-out visitor of every page to the login', async () => {
    for (const path of PAGES) {
      const browser = new HttpClient(ENGLISH);
      const res = await open(browser, h.issuer, path);
      expectNoInternals(res);
      await expectSentToLogin(browser, h.issuer, res);
    }
  });

  it('sends a signed-out form post to the login and changes nothing', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const before = await accountRow(h.app, user.id);
    for (const { path, fields } of FORMS.filter((f) => f.path !== '/account/logout')) {
      const browser = new HttpClient(ENGLISH);
      const res = await browser.request(`${h.issuer}${path}`, { form: { _csrf: 'whatever', ...fields } });
      expect({ path, status: res.status, location: res.location }).toEqual({
        path,
        status: 303,
        location: `${h.issuer}/account/login`,
      });
      await expectSentToLogin(browser, h.issuer, res);
    }
    expect(await accountRow(h.app, user.id)).toEqual(before);
    expect(h.sms.requests).toEqual([]);
  });

  it("refuses every form without this browser's CSRF token, and changes nothing", async () => {
    const { user, browser } = await signedInUser(h);
    const { browser: stranger } = await signedInUser(h);
    const strangerToken = csrfOf((await open(stranger, h.issuer, '/account/personal')).body);
    // A page of the user's own, so this browser holds a CSRF secret of its own.
    await open(browser, h.issuer, '/account/personal');
    const before = await accountRow(h.app, user.id);
    const auditBefore = await auditTypes(h.app, user.id);
    const tokens: { what: string; csrf?: string }[] = [
      { what: 'missing' },
      { what: 'empty', csrf: '' },
      { what: 'forged', csrf: 'abc-123' },
      { what: "another browser's", csrf: strangerToken },
    ];
    for (const { path, fields } of FORMS) {
      for (const { what, csrf } of tokens) {
        const res = await browser.request(`${h.issuer}${path}`, {
          method: 'POST',
          form: { ...fields, ...(csrf === undefined ? {} : { _csrf: csrf }) },
        });
        expect({ path, what, status: res.status }).toEqual({ path, what, status: 403 });
        expect(alertText(res.body)).toBe(en('errors.CSRF_FAILED'));
        expectNoInternals(res);
      }
    }
    expect(await accountRow(h.app, user.id)).toEqual(before);
    expect(await auditTypes(h.app, user.id)).toEqual(auditBefore);
    expect(h.sms.requests).toEqual([]);
    // Still signed in (the logout was refused too).
    expect((await open(browser, h.issuer, '/account')).status).toBe(200);
  });

  it('answers an oversize post with a clear message and saves nothing', async () => {
    const { user, browser } = await signedInUser(h);
    const page = await open(browser, h.issuer, '/account/personal');
    const before = await accountRow(h.app, user.id);
    for (const { path, fields } of FORMS) {
      const res = await browser.request(`${h.issuer}${path}`, {
        form: { _csrf: csrfOf(page.body), ...fields, given_name: 'あ'.repeat(20_000) },
      });
      expect({ path, status: res.status }).toEqual({ path, status: 413 });
      expect(alertText(res.body)).toBe(en('errors.BODY_TOO_LARGE'));
      expectNoInternals(res);
    }
    expect(await accountRow(h.app, user.id)).toEqual(before);
    expect((await open(browser, h.issuer, '/account')).status).toBe(200);
  });

  it('answers malformed posts without internals', async () => {
    const { user, browser } = await signedInUser(h);
    const page = await open(browser, h.issuer, '/account/personal');
    const csrf = csrfOf(page.body);
    const before = await accountRow(h.app, user.id);
    const form = (rest: string) => `_csrf=${encodeURIComponent(csrf)}&${rest}`;
    const cases: { what: string; body: string; type?: string; status: number; errors: string[] }[] = [
      // Only forms are read: the token inside JSON is not seen.
      {
        what: 'JSON',
        body: JSON.stringify({ _csrf: csrf, given_name: 'Json' }),
        type: 'application/json',
        status: 403,
        errors: [en('errors.CSRF_FAILED')],
      },
      {
        what: 'broken encoding',
        body: form('given_name=%E0%A4%A&family_name=%ZZ&locale=en'),
        status: 400,
        errors: [en('errors.COUNTRY_REQUIRED')],
      },
      {
        what: 'repeated fields',
        body: form('given_name=A&given_name=B&family_name=C&country=JP&locale=en'),
        status: 400,
        errors: [en('errors.NAME_REQUIRED')],
      },
      {
        what: 'nested fields',
        body: form('given_name[a]=A&family_name=C&country=JP&locale=en'),
        status: 400,
        errors: [en('errors.NAME_REQUIRED')],
      },
      {
        what: 'NUL byte',
        body: form('given_name=A%00B&family_name=C&country=JP&locale=en'),
        status: 400,
        errors: [en('errors.NAME_INVALID')],
      },
    ];
    for (const { what, body, type, status, errors } of cases) {
      const res = await browser.request(`${h.issuer}/account/personal`, {
        body,
        headers: { 'content-type': type ?? 'application/x-www-form-urlencoded' },
      });
      expectNoInternals(res);
      const shown = formErrors(res.body).length ? formErrors(res.body) : [alertText(res.body)];
      expect({ what, status: res.status, shown }).toEqual({ what, status, shown: errors });
    }
    expect(await accountRow(h.app, user.id)).toEqual(before);
    // A made-up notice in the address is not shown; a known one is.
    expect(noticeText((await open(browser, h.issuer, '/account?done=%3Cscript%3E')).body)).toBeUndefined();
    expect(noticeText((await open(browser, h.issuer, '/account?done=nothing-like-it')).body)).toBeUndefined();
    expect(noticeText((await open(browser, h.issuer, '/account?done=saved')).body)).toBe(en('account.done.saved'));
  });

  it('a login callback that this browser did not start does not open the console', async () => {
    const browser = new HttpClient(ENGLISH);
    const res = await open(browser, h.issuer, '/account/callback?code=made-up&state=made-up');
    expect(res.status).toBe(303);
    expect(res.location).toBe(`${h.issuer}/account/login`);
    await expectSentToLogin(browser, h.issuer, await browser.request(res.location!));
  });

  it('logging out of the console ends the shared session', async () => {
    const { user, browser } = await signedInUser(h);
    const hub = await open(browser, h.issuer, '/account');
    const res = await browser.request(`${h.issuer}/account/logout`, { form: { _csrf: csrfOf(hub.body) } });
    expect(res.location).toBe(`${h.issuer}/account/logged-out`);
    const page = await browser.follow(res.location!);
    expect(page.body).toContain(en('account.loggedOut.body'));
    await expectSentToLogin(browser, h.issuer, await open(browser, h.issuer, '/account'));
    expect(
      await h.app.db.selectFrom('account_sessions').select('session_id').where('account_id', '=', user.id).execute(),
    ).toEqual([]);
  });
});
