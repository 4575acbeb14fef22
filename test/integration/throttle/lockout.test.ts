/**
 * Issue 11 items 3 and 16: strangers cannot lock the owner out. Wrong passwords from strangers'
 * browsers use up the per-account counters only for strangers' browsers; a browser that logged
 * in to the account before has its own small counter (OWASP device cookies). A run of wrong
 * passwords from anywhere locks the account (NIST 800-63B 5.2.2), in PostgreSQL, and mails the
 * owner a link that unlocks it; a password reset unlocks it too.
 */
import { randomBytes } from 'node:crypto';
import { unlockAccount } from '../../../src/identity/accounts/lock.js';
import { ENGLISH, NEW_PASSWORD, startAccountHarness, type AccountHarness } from '../../helpers/account.js';
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
import { resetByEmail } from '../../helpers/recovery.js';
import type { CaughtMail } from '../../helpers/smtp.js';
import { EMBEDDED } from '../../helpers/env.js';

/** A browser behind the (trusted) proxy, coming from `ip`. */
const browserFrom = (ip: string) => new HttpClient({ ...ENGLISH, 'x-forwarded-for': ip });
const stranger = (n: number) => browserFrom(`198.51.100.${n}`);
const OWNER_IP = '203.0.113.7';

/** The login pages of one app, from a test's side. */
function loginPages(h: () => AccountHarness, client: () => { client_id: string }) {
  // prompt=login: a browser that is still signed in types its password again.
  const authUrl = () => authorizationUrl(h().issuer, client().client_id, { prompt: 'login' }).url;
  return {
    /** A full login to the RP from `browser`; the last answer (the redirect to the RP on success). */
    logIn: (browser: HttpClient, email: string, password = TEST_PASSWORD) =>
      loginThroughPages(browser, authUrl(), RP_CALLBACK, { email, password }),
    /** `count` wrong passwords for `email` from `browser`; their statuses. */
    async guess(browser: HttpClient, email: string, count: number): Promise<number[]> {
      const page = await openPasswordStep(browser, authUrl(), email);
      const statuses: number[] = [];
      for (let i = 0; i < count; i += 1) {
        const password = `Guess-${randomBytes(3).toString('hex')}!`;
        statuses.push((await submitForm(browser, page, '/password', { password })).status);
      }
      return statuses;
    },
    /** The password step's answer to `password` from `browser`. */
    async answer(browser: HttpClient, email: string, password = TEST_PASSWORD): Promise<PageResponse> {
      return submitForm(browser, await openPasswordStep(browser, authUrl(), email), '/password', { password });
    },
  };
}

const reachedRp = (answer: PageResponse) => answer.location?.startsWith(`${RP_CALLBACK}?code=`) === true;

describe('strangers use up the per-account limit only for strangers (issue 11 item 3, defaults)', () => {
  let h: AccountHarness;
  let client: Awaited<ReturnType<typeof registerClient>>;
  const pages = loginPages(
    () => h,
    () => client,
  );

  beforeAll(async () => {
    h = await startAccountHarness({ trustProxy: true });
    client = await registerClient(h.app);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('5 wrong passwords from each of 10 IPs do not stop the owner in a browser that logged in before', async () => {
    expect(h.app.config.rateLimits.loginPerAccount.points).toBe(50);
    const owner = await registerUser(h.app, { locale: 'en' });
    const ownersBrowser = browserFrom(OWNER_IP);
    expect(reachedRp(await pages.logIn(ownersBrowser, owner.email))).toBe(true);

    for (let n = 1; n <= 10; n += 1)
      expect(await pages.guess(stranger(n), owner.email, 5)).toEqual([401, 401, 401, 401, 401]);

    // Strangers' browsers are refused now, with the right password too, from any address...
    const refused = await pages.answer(stranger(11), owner.email);
    expect(refused.status).toBe(429);
    expect(alertText(refused.body)).toBe(en('errors.TOO_MANY_ATTEMPTS', { minutes: 60 }));
    expect((await pages.answer(browserFrom(OWNER_IP), owner.email)).status).toBe(429);

    // ...but the owner's browser logs in, from wherever it is now.
    ownersBrowser.headers['x-forwarded-for'] = '192.0.2.44';
    expect(reachedRp(await pages.logIn(ownersBrowser, owner.email))).toBe(true);
  });

  it("a known browser has a small limit of its own: 5 wrong passwords stop it, and not the owner's other browsers", async () => {
    const owner = await registerUser(h.app, { locale: 'en' });
    const laptop = browserFrom(OWNER_IP);
    const phone = browserFrom('192.0.2.80');
    expect(reachedRp(await pages.logIn(laptop, owner.email))).toBe(true);
    expect(reachedRp(await pages.logIn(phone, owner.email))).toBe(true);

    // Someone at the laptop (or with its cookies) guesses; the per-IP-and-account counter is not
    // what stops it (another IP each time), the laptop's own counter is.
    for (let i = 0; i < 5; i += 1) {
      laptop.headers['x-forwarded-for'] = `198.51.100.${100 + i}`;
      expect(await pages.guess(laptop, owner.email, 1)).toEqual([401]);
    }
    laptop.headers['x-forwarded-for'] = '198.51.100.120';
    expect((await pages.answer(laptop, owner.email)).status).toBe(429);
    expect(reachedRp(await pages.logIn(phone, owner.email))).toBe(true);
  });

  it('a device cookie counts only for the account it was given for', async () => {
    const owner = await registerUser(h.app, { locale: 'en' });
    const other = await registerUser(h.app, { locale: 'en' });
    const browser = browserFrom('192.0.2.90');
    expect(reachedRp(await pages.logIn(browser, other.email))).toBe(true);
    // For `owner`, this browser is a stranger's: 5 wrong ones use up its IP's count for the account.
    expect(await pages.guess(browser, owner.email, 5)).toEqual([401, 401, 401, 401, 401]);
    expect((await pages.answer(browser, owner.email)).status).toBe(429);
  });
});

const FAILURES = 12; // rateLimits.accountLock.failures here (100 by default, as NIST allows at most)

/** The unlock link in the account-locked mail. */
function unlockLink(mail: CaughtMail): string {
  const link = mail.text.match(/https?:\/\/\S+\/unlock\?token=[\w-]+/)?.[0];
  if (!link) throw new Error('no unlock link in the mail');
  return link;
}

describe('the lock after a run of wrong passwords (NIST 800-63B 5.2.2; issue 11 items 3, 16)', () => {
  let h: AccountHarness;
  let client: Awaited<ReturnType<typeof registerClient>>;
  const pages = loginPages(
    () => h,
    () => client,
  );

  beforeAll(async () => {
    h = await startAccountHarness({
      trustProxy: true,
      rateLimits: {
        loginPerAccountAndIp: { points: 5, durationSeconds: 900 },
        // Out of the way, so that strangers alone can reach the lock here.
        loginPerAccount: { points: 1000, durationSeconds: 3600 },
        loginPerIp: { points: 300, durationSeconds: 900 },
        loginPerDevice: { points: 5, durationSeconds: 900 },
        trustedDeviceDays: 180,
        accountLock: { failures: FAILURES, windowSeconds: 86400 },
      },
    });
    client = await registerClient(h.app);
  });
  afterAll(async () => {
    await h?.close();
  });

  /** FAILURES wrong passwords from strangers, 4 per address. */
  async function lockOut(email: string): Promise<void> {
    let left = FAILURES;
    for (let n = 1; left > 0; n += 1) {
      const statuses = await pages.guess(stranger(n), email, Math.min(4, left));
      expect(statuses.every((status) => status === 401)).toBe(true);
      left -= statuses.length;
    }
  }

  const isLockedMail = (mail: CaughtMail) => mail.subject === en('emails.accountLocked.subject');

  it('locks the account for every browser, mails the owner a link, and the link unlocks it once', async () => {
    const owner = await registerUser(h.app, { locale: 'en' });
    const ownersBrowser = browserFrom(OWNER_IP);
    expect(reachedRp(await pages.logIn(ownersBrowser, owner.email))).toBe(true);

    await lockOut(owner.email);
    const locked = await pages.answer(ownersBrowser, owner.email);
    expect(locked.status).toBe(429);
    expect(alertText(locked.body)).toBe(en('errors.ACCOUNT_LOCKED'));
    expect((await pages.answer(stranger(99), owner.email)).status).toBe(429);

    const mail = await h.mail.waitFor(owner.email, isLockedMail);
    expect(mail.text).toContain(en('emails.accountLocked.intro', { failures: FAILURES }));
    const link = unlockLink(mail);
    expect(link.startsWith(`${h.issuer}/unlock?token=`)).toBe(true);
    const audit = await h.app.db
      .selectFrom('audit_events')
      .select(['type', 'details'])
      .where('account_id', '=', owner.id)
      .where('type', '=', 'account.locked')
      .execute();
    expect(audit).toEqual([{ type: 'account.locked', details: { failures: FAILURES } }]);

    // Opening the link only shows a button (mail scanners open links too).
    const browser = new HttpClient(ENGLISH);
    const page = await browser.request(link);
    expect(page.status).toBe(200);
    expect((await pages.answer(ownersBrowser, owner.email)).status).toBe(429);
    const unlocked = await submitForm(browser, page, '/unlock', {});
    expect(unlocked.status).toBe(200);
    expect(unlocked.body).toContain(en('unlock.done'));

    expect(reachedRp(await pages.logIn(ownersBrowser, owner.email))).toBe(true);
    // From a stranger's address too: the run of failures started again.
    expect(reachedRp(await pages.logIn(stranger(98), owner.email))).toBe(true);

    const again = await submitForm(browser, page, '/unlock', {});
    expect(again.status).toBe(400);
    expect(again.body).toContain(en('errors.UNLOCK_LINK_INVALID'));
  });

  // The embedded default has no Redis to lose.
  (EMBEDDED ? it.skip : it)(
    'stays locked when Redis loses every counter (the lock is kept in PostgreSQL)',
    async () => {
      const owner = await registerUser(h.app, { locale: 'en' });
      await lockOut(owner.email);
      await h.mail.waitFor(owner.email, isLockedMail);

      // Everything the app keeps in Redis goes, as after a restart without persistence.
      const redis = h.app.redis!;
      const keys = await redis.keys(`${h.app.config.redisKeyPrefix}*`);
      expect(keys.length).toBeGreaterThan(0);
      await redis.del(...keys);

      const stillLocked = await pages.answer(browserFrom(OWNER_IP), owner.email);
      expect(stillLocked.status).toBe(429);
      expect(alertText(stillLocked.body)).toBe(en('errors.ACCOUNT_LOCKED'));
    },
  );

  it('answers an unknown address that reached the limit exactly like a locked account', async () => {
    const owner = await registerUser(h.app, { locale: 'en' });
    const nobody = `nobody-${randomBytes(4).toString('hex')}@example.com`;
    await lockOut(owner.email);
    await lockOut(nobody);
    const known = await pages.answer(stranger(77), owner.email);
    const unknown = await pages.answer(stranger(77), nobody);
    expect([known.status, alertText(known.body)]).toEqual([429, en('errors.ACCOUNT_LOCKED')]);
    expect([unknown.status, alertText(unknown.body)]).toEqual([429, en('errors.ACCOUNT_LOCKED')]);
  });

  it('a password reset unlocks the account too', async () => {
    const owner = await registerUser(h.app, { locale: 'en' });
    await lockOut(owner.email);
    await h.mail.waitFor(owner.email, isLockedMail);
    const done = await resetByEmail(new HttpClient(ENGLISH), h.issuer, h.mail, owner.email, NEW_PASSWORD);
    expect(done.status).toBe(303);
    expect(reachedRp(await pages.logIn(stranger(60), owner.email, NEW_PASSWORD))).toBe(true);
  });

  it('the unlock is a domain operation the admin CLI (and later the admin API) calls', async () => {
    const owner = await registerUser(h.app, { locale: 'en' });
    await lockOut(owner.email);
    expect(await unlockAccount(h.app, owner.id, 'admin:test')).toBe(true);
    expect(await unlockAccount(h.app, owner.id, 'admin:test')).toBe(false);
    expect(reachedRp(await pages.logIn(stranger(61), owner.email))).toBe(true);
    const row = await h.app.db
      .selectFrom('audit_events')
      .select('details')
      .where('account_id', '=', owner.id)
      .where('type', '=', 'account.unlocked')
      .executeTakeFirstOrThrow();
    expect(row.details).toEqual({ by: 'admin:test' });
  });
});
