/**
 * Issue 11 items 1 and 4: every place that checks a password counts the attempt before bcrypt
 * runs, atomically, so 50 guesses sent at once get no further than the limit; and they all
 * draw from the same per-account counters, so no page is a way around the login's limits.
 */
import type { App } from '../../../src/app.js';
import { ENGLISH, open, signedInUser, startAccountHarness, type AccountHarness } from '../../helpers/account.js';
import {
  authorizationUrl,
  en,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import {
  alertText,
  HttpClient,
  loginThroughPages,
  openPasswordStep,
  submitForm,
  type PageResponse,
} from '../../helpers/http-client.js';
import { formErrors } from '../../helpers/signup-pages.js';

const PARALLEL = 50;

/** Counts the bcrypt comparisons the app runs (a real account's hash or the dummy one). */
function countBcrypt(app: App): { readonly calls: number; stop(): void } {
  const hasher = app.hasher;
  const verify = hasher.verify.bind(hasher);
  const verifyAgainstNothing = hasher.verifyAgainstNothing.bind(hasher);
  let calls = 0;
  hasher.verify = (...args) => {
    calls += 1;
    return verify(...args);
  };
  hasher.verifyAgainstNothing = (...args) => {
    calls += 1;
    return verifyAgainstNothing(...args);
  };
  return {
    get calls() {
      return calls;
    },
    stop() {
      // The prototype's methods show through again.
      delete (hasher as Partial<Pick<typeof hasher, 'verify' | 'verifyAgainstNothing'>>).verify;
      delete (hasher as Partial<Pick<typeof hasher, 'verify' | 'verifyAgainstNothing'>>).verifyAgainstNothing;
    },
  };
}

async function auditCount(app: App, type: string, accountId?: string): Promise<number> {
  let query = app.db.selectFrom('audit_events').select('id').where('type', '=', type);
  if (accountId) query = query.where('account_id', '=', accountId);
  return (await query.execute()).length;
}

const statuses = (answers: PageResponse[]) =>
  answers.reduce<Record<number, number>>((tally, a) => ({ ...tally, [a.status]: (tally[a.status] ?? 0) + 1 }), {});

describe('password guesses sent at once (issue 11 items 1, 4)', () => {
  let h: AccountHarness;
  let client: Awaited<ReturnType<typeof registerClient>>;
  const limit = 5; // rateLimits.loginPerAccountAndIp, the tightest counter in the way

  beforeAll(async () => {
    // Forgot-email's own lookup limits out of the way: what is tested here is the password check's.
    const plenty = { points: 1000, durationSeconds: 3600 };
    h = await startAccountHarness({ forgotEmail: { perIp: plenty, perIdentifier: plenty } });
    client = await registerClient(h.app);
  });
  afterAll(async () => {
    await h?.close();
  });

  const loginPage = async (email: string, browser = new HttpClient(ENGLISH)) => ({
    browser,
    page: await openPasswordStep(browser, authorizationUrl(h.issuer, client.client_id).url, email),
  });

  it(`login: of ${PARALLEL} wrong passwords posted at once with one form, at most ${limit} reach bcrypt`, async () => {
    expect(h.app.config.rateLimits.loginPerAccountAndIp.points).toBe(limit);
    const user = await registerUser(h.app, { locale: 'en' });
    const { browser, page } = await loginPage(user.email);
    const bcrypt = countBcrypt(h.app);
    let answers: PageResponse[];
    try {
      answers = await Promise.all(
        Array.from({ length: PARALLEL }, (_, i) => submitForm(browser, page, '/password', { password: `Guess-${i}!` })),
      );
    } finally {
      bcrypt.stop();
    }
    expect(bcrypt.calls).toBeLessThanOrEqual(limit);
    expect(statuses(answers)).toEqual({ 401: bcrypt.calls, 429: PARALLEL - bcrypt.calls });
    expect(await auditCount(h.app, 'login.failed', user.id)).toBe(bcrypt.calls);
    for (const refused of answers.filter((a) => a.status === 429))
      expect(alertText(refused.body)).toBe(en('errors.TOO_MANY_ATTEMPTS', { minutes: 15 }));
  });

  it('login: a right password gives its attempt back, so the owner is not counted against themselves', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    for (let round = 0; round < 3; round += 1) {
      const { browser, page } = await loginPage(user.email);
      for (let i = 0; i < limit - 1; i += 1) {
        expect((await submitForm(browser, page, '/password', { password: `Typo-${round}-${i}!` })).status).toBe(401);
      }
      const done = await loginThroughPages(
        new HttpClient(ENGLISH),
        authorizationUrl(h.issuer, client.client_id).url,
        RP_CALLBACK,
        { email: user.email, password: TEST_PASSWORD },
      );
      expect(done.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
    }
  });

  it(`console re-authentication: of ${PARALLEL} wrong passwords at once, at most ${limit} reach bcrypt`, async () => {
    const { user, browser } = await signedInUser(h);
    const form = await open(browser, h.issuer, '/account/security/phone');
    const bcrypt = countBcrypt(h.app);
    let answers: PageResponse[];
    try {
      answers = await Promise.all(
        Array.from({ length: PARALLEL }, (_, i) =>
          submitForm(browser, form, '/account/security/phone', {
            current_password: `Guess-${i}!`,
            country: 'JP',
            number: 'abc',
          }),
        ),
      );
    } finally {
      bcrypt.stop();
    }
    expect(bcrypt.calls).toBeLessThanOrEqual(limit);
    expect(statuses(answers)).toEqual({ 401: bcrypt.calls, 429: PARALLEL - bcrypt.calls });
    expect(await auditCount(h.app, 'reauth.failed', user.id)).toBe(bcrypt.calls);
    for (const refused of answers.filter((a) => a.status === 429))
      expect(formErrors(refused.body)).toEqual([en('errors.TOO_MANY_ATTEMPTS', { minutes: 15 })]);
  });

  it(`forgot-email by account ID: of ${PARALLEL} wrong passwords at once, at most ${limit} reach bcrypt`, async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new HttpClient(ENGLISH);
    const start = await browser.request(`${h.issuer}/forgot-email`);
    const form = await submitForm(browser, start, '/forgot-email', { identifier: user.username });
    const bcrypt = countBcrypt(h.app);
    let answers: PageResponse[];
    try {
      answers = await Promise.all(
        Array.from({ length: PARALLEL }, (_, i) =>
          submitForm(browser, form, '/forgot-email/password', { password: `Guess-${i}!` }),
        ),
      );
    } finally {
      bcrypt.stop();
    }
    expect(bcrypt.calls).toBeLessThanOrEqual(limit);
    expect(statuses(answers)).toEqual({ 401: bcrypt.calls, 429: PARALLEL - bcrypt.calls });
  });

  it('forgot-email by account ID is refused once the login for that account answers 429, even with the right password', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const { browser, page } = await loginPage(user.email);
    for (let i = 0; i < limit; i += 1) await submitForm(browser, page, '/password', { password: `Wrong-${i}!` });
    expect((await submitForm(browser, page, '/password', { password: TEST_PASSWORD })).status).toBe(429);

    const lookup = new HttpClient(ENGLISH);
    const start = await lookup.request(`${h.issuer}/forgot-email`);
    const form = await submitForm(lookup, start, '/forgot-email', { identifier: user.username });
    const refused = await submitForm(lookup, form, '/forgot-email/password', { password: TEST_PASSWORD });
    expect(refused.status).toBe(429);
    expect(refused.body).not.toContain(user.email);
    expect(await auditCount(h.app, 'email.looked_up', user.id)).toBe(0);
  });

  it('and the other way round: wrong passwords on forgot-email count against the login', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const lookup = new HttpClient(ENGLISH);
    const start = await lookup.request(`${h.issuer}/forgot-email`);
    const form = await submitForm(lookup, start, '/forgot-email', { identifier: user.username });
    for (let i = 0; i < limit; i += 1) {
      expect((await submitForm(lookup, form, '/forgot-email/password', { password: `Wrong-${i}!` })).status).toBe(401);
    }
    const { browser, page } = await loginPage(user.email);
    const refused = await submitForm(browser, page, '/password', { password: TEST_PASSWORD });
    expect(refused.status).toBe(429);
  });
});
