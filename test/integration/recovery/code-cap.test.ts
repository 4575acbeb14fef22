/**
 * Issue 11 item 14: one-time codes (password reset by mail or SMS, activation, phone
 * verification) have a daily cap of tries per account on top of each code's own tries, counted
 * before the code is checked (50 parallel guesses get no further), the same for an address
 * without an account, and every code that does not work is audited. Real PostgreSQL + Redis.
 */
import { sql } from 'kysely';
import {
  ENGLISH,
  jpMobile,
  openAndSubmit,
  signInToAccount,
  startAccountHarness,
  type AccountHarness,
} from '../../helpers/account.js';
import { en, registerUser } from '../../helpers/fixtures.js';
import { alertText, HttpClient, submitForm, type PageResponse } from '../../helpers/http-client.js';
import { askForCode, registerPhone, resetCodeByMail, startReset } from '../../helpers/recovery.js';
import { newAddress, pageShape, signUp, signUpFields } from '../../helpers/signup-pages.js';

/** The daily cap on tries per account, small so 50 parallel guesses overrun it many times. */
const CAP = 12;
const PARALLEL = 50;
const plenty = { points: 10_000, durationSeconds: 3600 };

describe('the daily cap on wrong one-time codes, and their audit (issue 11 item 14)', () => {
  let h: AccountHarness;

  beforeAll(async () => {
    h = await startAccountHarness({
      codes: { attemptsPerAccount: { points: CAP, durationSeconds: 86_400 } },
      recovery: {
        flowTtlSeconds: 3600,
        mailUnknownAddresses: false,
        perIp: plenty,
        perAddress: plenty,
        perAddressCeiling: plenty,
      },
      registration: { perIp: plenty, resendPerAddress: plenty },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** The audit rows of `type` with these details, for an account (or for none: null). */
  async function audited(type: string, accountId: string | null, details: Record<string, string>): Promise<number> {
    const rows = await h.app.db
      .selectFrom('audit_events')
      .select('id')
      .where('type', '=', type)
      .where('account_id', accountId === null ? 'is' : '=', accountId)
      .where(sql<boolean>`details @> ${JSON.stringify(details)}::jsonb`)
      .execute();
    return rows.length;
  }

  /** A code that is not `right`. */
  const wrongThan = (right: string) => String((Number(right) + 1) % 1_000_000).padStart(right.length, '0');

  /** A stranger's browser at the code page of a reset by mail for `email`. */
  async function resetCodePage(email: string): Promise<{ browser: HttpClient; codePage: PageResponse }> {
    const browser = new HttpClient(ENGLISH);
    const codePage = await askForCode(browser, await startReset(browser, h.issuer, email), { channel: 'email' });
    expect(codePage.status).toBe(200);
    return { browser, codePage };
  }

  /** PARALLEL submits of `code` at once on the code page; their answers. */
  function guessAtOnce(browser: HttpClient, codePage: PageResponse, code: string): Promise<PageResponse[]> {
    return Promise.all(
      Array.from({ length: PARALLEL }, () => submitForm(browser, codePage, '/recovery/code', { code })),
    );
  }

  it('50 parallel wrong reset codes: CAP are checked, the rest refused before any check, alike for an unknown address', async () => {
    const owner = await registerUser(h.app, { locale: 'en' });
    // The owner's own browser logged in before (it holds a device cookie for the account).
    const ownBrowser = new HttpClient(ENGLISH);
    await signInToAccount(ownBrowser, h.issuer, owner.email);

    const { browser, codePage } = await resetCodePage(owner.email);
    const sent = await resetCodeByMail(h.mail, owner.email);
    const answers = await guessAtOnce(browser, codePage, wrongThan(sent));
    const refused = answers.filter((a) => a.status === 429);
    expect(answers.length - refused.length).toBe(CAP);
    expect(refused).toHaveLength(PARALLEL - CAP);
    expect(alertText(refused[0]!.body)).toMatch(/^Too many attempts\. Try again in \d+ minutes\.$/);
    // Every try that got through was audited as a code that did not work (wrong, or after the
    // flow's own 5 tries, exhausted), every refused one as throttled; none holds the code.
    expect(await audited('code.failed', owner.id, { purpose: 'reset', channel: 'email' })).toBe(CAP);
    expect(await audited('code.throttled', owner.id, { purpose: 'reset', channel: 'email' })).toBe(PARALLEL - CAP);
    const rows = await h.app.db
      .selectFrom('audit_events')
      .select('details')
      .where('account_id', '=', owner.id)
      .execute();
    expect(JSON.stringify(rows)).not.toContain(sent);

    // The cap is the account's, not the code's: a new reset with a new code, from yet another
    // stranger's browser, is refused even with the right code.
    const second = await resetCodePage(owner.email);
    const refusedRight = await submitForm(second.browser, second.codePage, '/recovery/code', {
      code: await resetCodeByMail(h.mail, owner.email, 1),
    });
    expect(refusedRight.status).toBe(429);

    // The owner's own browser has a counter of its own: the reset goes through.
    const own = await askForCode(ownBrowser, await startReset(ownBrowser, h.issuer, owner.email), {
      channel: 'email',
    });
    const passed = await submitForm(ownBrowser, own, '/recovery/code', {
      code: await resetCodeByMail(h.mail, owner.email, 2),
    });
    expect(passed.status).toBe(303);
    expect(new URL(passed.location!).pathname).toBe('/recovery/password');

    // An address without an account: the same counts, the same refusal page.
    const nobody = newAddress('nobody');
    const stranger = await resetCodePage(nobody);
    const unknownAnswers = await guessAtOnce(stranger.browser, stranger.codePage, '123456');
    const unknownRefused = unknownAnswers.filter((a) => a.status === 429);
    expect(unknownRefused).toHaveLength(PARALLEL - CAP);
    expect(pageShape(unknownRefused[0]!.body, nobody)).toBe(pageShape(refused[0]!.body, owner.email));
    // The tries that were checked answer alike too (wrong codes, then the flow's tries used up).
    const checked = (pages: PageResponse[], email: string) =>
      pages
        .filter((a) => a.status !== 429)
        .map((a) => `${a.status} ${pageShape(a.body, email).replace(/\d+ tries left/, 'N tries left')}`)
        .sort();
    expect(checked(unknownAnswers, nobody)).toEqual(checked(answers, owner.email));
    expect(await audited('code.failed', null, { purpose: 'reset' })).toBe(CAP);
    expect(await audited('code.throttled', null, { purpose: 'reset' })).toBe(PARALLEL - CAP);
  });

  it('audits a wrong reset code sent by SMS', async () => {
    const owner = await registerUser(h.app, { locale: 'en' });
    const ownBrowser = new HttpClient(ENGLISH);
    await signInToAccount(ownBrowser, h.issuer, owner.email);
    const mobile = jpMobile();
    await registerPhone(ownBrowser, h.issuer, h.sms, mobile);

    const browser = new HttpClient(ENGLISH);
    const codePage = await askForCode(browser, await startReset(browser, h.issuer, owner.email), {
      channel: 'sms',
      country: 'JP',
      number: mobile.national,
    });
    expect(codePage.status).toBe(200);
    const wrong = await submitForm(browser, codePage, '/recovery/code', { code: '000000' });
    expect(wrong.status).toBe(400);
    expect(await audited('code.failed', owner.id, { purpose: 'reset', channel: 'sms', result: 'wrong' })).toBe(1);
  });

  it('audits a wrong code for a new mobile number, and caps those too', async () => {
    const owner = await registerUser(h.app, { locale: 'en' });
    const browser = new HttpClient(ENGLISH);
    await signInToAccount(browser, h.issuer, owner.email);
    const mobile = jpMobile();
    const started = await openAndSubmit(browser, h.issuer, '/account/security/phone', '/account/security/phone', {
      current_password: 'Kaisha-Pass-2026!',
      country: 'JP',
      number: mobile.national,
    });
    expect(started.status).toBe(303);
    const verifyPage = await browser.follow(started.location!);
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, () =>
        submitForm(browser, verifyPage, '/account/security/phone/verify', { code: '000000' }),
      ),
    );
    expect(answers.filter((a) => a.status === 429)).toHaveLength(PARALLEL - CAP);
    expect(await audited('code.failed', owner.id, { purpose: 'phone', channel: 'sms' })).toBe(CAP);
    expect(await audited('code.throttled', owner.id, { purpose: 'phone' })).toBe(PARALLEL - CAP);
  });

  it('audits a wrong activation code', async () => {
    const email = newAddress();
    const browser = new HttpClient(ENGLISH);
    const res = await signUp(browser, h.issuer, signUpFields(email));
    expect(res.status).toBe(303);
    const verify = await browser.follow(res.location!);
    const wrong = await submitForm(browser, verify, '/signup/verify', { code: '000000' });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toContain(en('errors.CODE_WRONG', { attempts: 4 }));
    const account = await h.app.db
      .selectFrom('accounts')
      .select('id')
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    expect(await audited('code.failed', account.id, { purpose: 'activation', channel: 'email', result: 'wrong' })).toBe(
      1,
    );
  });
});
