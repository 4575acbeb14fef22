import { newAccountId } from '../../../src/identity/accounts/account-id.js';
import { comparePaired, describeResult, median, type PairedResult, type PairedTiming } from '../../helpers/timing.js';
import { ENGLISH, NEW_PASSWORD, startAccountHarness, type AccountHarness } from '../../helpers/account.js';
import { registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, nodeExchange, submitForm, type PageResponse } from '../../helpers/http-client.js';
import { askForCode, resetByEmail, startReset } from '../../helpers/recovery.js';
import { eventually, newAddress, outboxFor, outboxSettled, pageShape } from '../../helpers/signup-pages.js';
import type { CaughtMail } from '../../helpers/smtp.js';

// Issue 6, R5/E2/E3: an outsider cannot tell from the pages, their answers or their timing
// whether an address (or an account ID) is registered; and nobody can make Monban put their
// host into a Location header or a mail link.

// --- timing ---------------------------------------------------------------------------------

const WARM_UP = 3;
/**
 * How far apart the two cases may be: the median of the per-pair differences (registered minus
 * unknown) must lie within this, with 95% confidence (see test/helpers/timing.ts).
 *
 * What the registered case does more, by design: one outbox row in the transaction both cases
 * open, and the courier's delivery, which starts as the answer goes out. Measured on a 2-core
 * machine, the medians are 0-3 ms apart on PostgreSQL and 1-7 ms on PGlite (which, like the
 * courier and here the SMTP catcher, runs in the app's own process), and up to 11 ms with both
 * cores kept busy by two other processes.
 *
 * What a real leak costs: a password check skipped for unknown IDs is one bcrypt, which these
 * tests run at production's cost 11 (about 110 ms; asserted below to be well above the
 * tolerance); sending the mail before answering costs an exchange with a real relay: greeting,
 * EHLO, MAIL, RCPT, DATA and QUIT are six round trips, tens of ms for a relay a few ms away.
 * Both are asserted below to be caught.
 *
 * How the tolerance grows on a loaded machine (the suite shares 2 cores with other test files;
 * six runs there, load average 15-19, gave the figures below). Load stretches whatever one case
 * does more, so the tolerance grows with the walks:
 *
 * - Where both cases do a bcrypt (E2), load slows bcrypt for both and widens its spread (median
 *   differences of up to 113 ms either way, with 500-660 ms walks), so the tolerance is a third
 *   of the slower median (a quarter left some runs inconclusive, and each further round of
 *   bcrypts costs half a minute). A skipped bcrypt is still caught: then one side does two
 *   bcrypts (2B) and the rest (R), the other one, so the difference B exceeds a third of 2B + R
 *   whenever B exceeds R; measured, the skipped bcrypt made a difference of 485-620 ms (95%
 *   from 329 ms up) against tolerances of 270-400 ms.
 * - Where neither does (R5, E3), what grows is the registered case's outbox row (median
 *   differences of up to 27 ms with 40-165 ms walks), so the tolerance is a quarter of the slower
 *   median. The injected relay exchange is still caught, because the registered case's own
 *   extra work grows with the load as well and adds to it (differences of 31-56 ms, each above
 *   its run's tolerance of 20-35 ms).
 *
 * A comparison takes up to MAX_PAIRS pairs, each a few requests (E2: two bcrypts), so the
 * tests that time get TIMING_TEST_MS rather than the suite's 60 s, which loaded runs overran.
 */
const TOLERANCE_MS = 20;
const BCRYPT_SHARE = 1 / 3;
const PLAIN_SHARE = 0.25;
const TIMING_TEST_MS = 240_000;
/** Pairs per round, and at most this many pairs before the median alone decides. */
const BATCH = 20;
const MAX_PAIRS = 100;
/** Production's bcrypt cost (config/default.json): a skipped password check costs what it would there. */
const BCRYPT_COST = 11;

/** The comparison for walks where both cases check a password (E2). */
const bcryptTiming: PairedTiming = {
  batch: BATCH,
  maxPairs: MAX_PAIRS,
  toleranceMs: (registered, unknown) =>
    Math.max(TOLERANCE_MS, BCRYPT_SHARE * Math.max(median(registered), median(unknown))),
};

/** The comparison for walks without a password check (R5, E3). */
const plainTiming: PairedTiming = {
  batch: BATCH,
  maxPairs: MAX_PAIRS,
  toleranceMs: (registered, unknown) =>
    Math.max(TOLERANCE_MS, PLAIN_SHARE * Math.max(median(registered), median(unknown))),
};

/** Adds up the time of the requests it runs: the part of a walk through the pages to compare. */
class Stopwatch {
  ms = 0;
  async time<T>(work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.ms += performance.now() - start;
    }
  }
}

/** One walk through the pages: what came back (with the input and CSRF token taken out), and how long it took. */
interface Walk {
  answers: { status: number; location?: string | undefined; shape: string }[];
  ms: number;
}

function answerOf(page: PageResponse, input: string): Walk['answers'][number] {
  return {
    status: page.status,
    location: page.location?.split(input).join('INPUT'),
    shape: pageShape(page.body, input),
  };
}

type Case = 'registered' | 'unknown';

/**
 * Walks both cases after a warm-up of both (the first bcrypt of an unknown ID makes the dummy
 * hash, templates compile, connections open), then in pairs until the times are conclusive
 * (comparePaired). Every walk must bring the same answers as the first. After each walk the
 * courier finishes what it was given: its delivery runs in the background, and here the SMTP
 * catcher parsing the mail in the test's own process would otherwise slow whichever request
 * comes next, registered or not.
 */
async function compareWalks(
  h: AccountHarness,
  what: string,
  timing: PairedTiming,
  walk: (which: Case) => Promise<Walk>,
): Promise<{ result: PairedResult; answers: Walk['answers']; walks: number }> {
  let reference: Walk['answers'] | undefined;
  let walks = 0;
  const once = async (which: Case) => {
    const result = await walk(which);
    await outboxSettled(h.app);
    reference ??= result.answers;
    expect(result.answers).toEqual(reference);
    walks += 1;
    return result.ms;
  };
  for (let i = 0; i < WARM_UP; i += 1) {
    await once('registered');
    await once('unknown');
  }
  const result = await comparePaired((which) => once(which === 'first' ? 'registered' : 'unknown'), timing);
  const report = describeResult(what, result, ['registered', 'unknown']);
  if (process.env.MONBAN_TIMING_REPORT) console.log(report);
  return { result, answers: reference!, walks: walks / 2 };
}

/** Same answers every time in both cases, and times the paired comparison cannot tell apart. */
async function expectIndistinguishable(
  h: AccountHarness,
  what: string,
  timing: PairedTiming,
  walk: (which: Case) => Promise<Walk>,
): Promise<{ answers: Walk['answers']; walks: number }> {
  const { result, answers, walks } = await compareWalks(h, what, timing, walk);
  if (result.verdict !== 'indistinguishable') throw new Error(describeResult(what, result, ['registered', 'unknown']));
  return { answers, walks };
}

describe('forgot password and forgot email address do not tell who is registered', () => {
  let h: AccountHarness;
  const plenty = { points: 10_000, durationSeconds: 3600 };

  beforeAll(async () => {
    h = await startAccountHarness({
      bcryptCost: BCRYPT_COST,
      recovery: {
        flowTtlSeconds: 3600,
        mailUnknownAddresses: false,
        perIp: plenty,
        perAddress: plenty,
        perAddressCeiling: plenty,
      },
      forgotEmail: { perIp: plenty, perIdentifier: plenty },
      // E2 guesses one account's password far more often than anyone may.
      rateLimits: { loginPerAccountAndIp: plenty, loginPerAccount: plenty, loginPerIp: plenty },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('the tolerance is far below the cost of one password check', async () => {
    const { password_hash: hash } = await h.app.db
      .selectFrom('accounts')
      .select('password_hash')
      .where('id', '=', (await registerUser(h.app)).id)
      .executeTakeFirstOrThrow();
    const times: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const watch = new Stopwatch();
      await watch.time(() => h.app.hasher.verify('not the password', hash!));
      times.push(watch.ms);
    }
    expect(median(times)).toBeGreaterThan(2 * TOLERANCE_MS);
  });

  /** R5: a reset by email, the three answers an outsider sees for the address. */
  const resetWalk =
    (addresses: Record<Case, string>) =>
    async (which: Case): Promise<Walk> => {
      const email = addresses[which];
      const browser = new HttpClient(ENGLISH);
      const start = await browser.request(`${h.issuer}/recovery`);
      const watch = new Stopwatch();
      const posted = await watch.time(() => submitForm(browser, start, '/recovery', { email }));
      const methodPage = await browser.request(posted.location!);
      const asked = await watch.time(() =>
        submitForm(browser, methodPage, '/recovery/method', { channel: 'email', country: 'JP', number: '' }),
      );
      // The courier delivers the code mail in the background; in this process the SMTP catcher
      // also parses it. Neither belongs to the next answer's time (see compareWalks).
      await outboxSettled(h.app);
      const codePage = await watch.time(() => browser.request(asked.location!));
      return { answers: [posted, asked, codePage].map((page) => answerOf(page, email)), ms: watch.ms };
    };

  /** E3: asking about an address. */
  const addressWalk =
    (addresses: Record<Case, string>, extra?: (which: Case) => Promise<void>) =>
    async (which: Case): Promise<Walk> => {
      const email = addresses[which];
      const browser = new HttpClient(ENGLISH);
      const form = await browser.request(`${h.issuer}/forgot-email`);
      const watch = new Stopwatch();
      const result = await watch.time(async () => {
        const page = await submitForm(browser, form, '/forgot-email', { identifier: email });
        await extra?.(which);
        return page;
      });
      return { answers: [answerOf(result, email)], ms: watch.ms };
    };

  /** E2: an account ID and a wrong password. */
  const accountIdWalk =
    (ids: Record<Case, string>, extra?: (which: Case) => Promise<void>) =>
    async (which: Case): Promise<Walk> => {
      const id = ids[which];
      const browser = new HttpClient(ENGLISH);
      const form = await browser.request(`${h.issuer}/forgot-email`);
      const watch = new Stopwatch();
      const passwordForm = await watch.time(() => submitForm(browser, form, '/forgot-email', { identifier: id }));
      const refused = await watch.time(async () => {
        const page = await submitForm(browser, passwordForm, '/forgot-email/password', {
          password: 'Not-The-Password-1!',
        });
        await extra?.(which);
        return page;
      });
      return { answers: [passwordForm, refused].map((page) => answerOf(page, id)), ms: watch.ms };
    };

  it(
    'R5: a reset by email answers alike, and as fast, for a registered and an unknown address',
    async () => {
      const user = await registerUser(h.app, { locale: 'en' });
      const addresses: Record<Case, string> = { registered: user.email, unknown: newAddress('nobody') };
      const { answers, walks } = await expectIndistinguishable(h, 'R5 reset', plainTiming, resetWalk(addresses));
      expect(answers.map((a) => a.status)).toEqual([303, 303, 200]);
      expect(answers[2]!.shape).toContain('If EMAIL belongs to an account, we have sent a verification code to it.');
      // Only the registered address was written to.
      expect((await outboxFor(h.app, user.email)).length).toBe(walks);
      expect(await outboxFor(h.app, addresses.unknown)).toEqual([]);
    },
    TIMING_TEST_MS,
  );

  it(
    'E3: asking about a registered and an unknown address answers alike, and as fast',
    async () => {
      const user = await registerUser(h.app, { locale: 'en' });
      const addresses: Record<Case, string> = { registered: user.email, unknown: newAddress('nobody') };
      const { answers, walks } = await expectIndistinguishable(h, 'E3 address', plainTiming, addressWalk(addresses));
      expect(answers[0]!.status).toBe(200);
      expect(answers[0]!.shape).toContain('If EMAIL is registered, we have sent a confirmation email to it.');
      expect((await outboxFor(h.app, user.email)).length).toBe(walks);
      expect(await outboxFor(h.app, addresses.unknown)).toEqual([]);
    },
    TIMING_TEST_MS,
  );

  it(
    'E2: a wrong password for a real account ID and any password for an unknown ID answer alike, and as fast',
    async () => {
      const user = await registerUser(h.app, { locale: 'en' });
      const ids: Record<Case, string> = { registered: user.username, unknown: newAccountId() };
      const { answers } = await expectIndistinguishable(h, 'E2 account ID', bcryptTiming, accountIdWalk(ids));
      expect(answers.map((a) => a.status)).toEqual([200, 401]);
      expect(answers[1]!.shape).toContain('The account ID or password is not right.');
      expect(await outboxFor(h.app, user.email)).toEqual([]);
    },
    TIMING_TEST_MS,
  );

  // The comparison must still catch the leaks it is there for. Each is added to one case's
  // measured time, exactly where the server would do it.
  it(
    'catches a skipped password check: one bcrypt more on one side is a leak',
    async () => {
      const user = await registerUser(h.app, { locale: 'en' });
      const ids: Record<Case, string> = { registered: user.username, unknown: newAccountId() };
      const { password_hash: hash } = await h.app.db
        .selectFrom('accounts')
        .select('password_hash')
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      // As if unknown IDs skipped their bcrypt: the registered side is one bcrypt slower.
      const oneMoreBcrypt = async (which: Case) => {
        if (which === 'registered') await h.app.hasher.verify('Not-The-Password-1!', hash!);
      };
      const { result } = await compareWalks(
        h,
        'E2 with a skipped bcrypt',
        bcryptTiming,
        accountIdWalk(ids, oneMoreBcrypt),
      );
      expect(result.verdict).toBe('leak');
      expect(result.median).toBeGreaterThan(result.toleranceMs);
    },
    TIMING_TEST_MS,
  );

  it(
    'catches a mail sent before answering: a relay exchange more on one side is a leak',
    async () => {
      const user = await registerUser(h.app, { locale: 'en' });
      const addresses: Record<Case, string> = { registered: user.email, unknown: newAddress('nobody') };
      // Six round trips to a relay 5 ms away (see TOLERANCE_MS), only for the registered address.
      const relayExchange = async (which: Case) => {
        if (which === 'registered') await new Promise((resolve) => setTimeout(resolve, 6 * 5));
      };
      const { result } = await compareWalks(
        h,
        'E3 with an inline mail',
        plainTiming,
        addressWalk(addresses, relayExchange),
      );
      expect(result.verdict).toBe('leak');
    },
    TIMING_TEST_MS,
  );
});

// --- Host header poisoning -------------------------------------------------------------------

const EVIL = 'evil.example';

/**
 * A browser whose every request names another host: Host, X-Forwarded-Host and -Proto say
 * https://evil.example (fetch cannot set Host, so node:http carries these requests). It keeps
 * every Location header as sent.
 */
class SpoofingBrowser extends HttpClient {
  readonly locations: string[] = [];

  /** Sends through node:http with the forged headers (fetch cannot set Host); keeps every Location. */
  protected override async send(
    url: string,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
  ) {
    const res = await nodeExchange(
      url,
      method,
      { ...headers, host: EVIL, 'x-forwarded-host': EVIL, 'x-forwarded-proto': 'https' },
      body,
    );
    const location = res.headers.get('location');
    if (location) this.locations.push(location);
    return res;
  }
}

/** Every link in a mail: href attributes and bare URLs in the text and HTML. */
function linksIn(mail: CaughtMail): string[] {
  const hrefs = [...mail.html.matchAll(/href="([^"]*)"/g)].map((m) => m[1]!);
  const bare = [...`${mail.text}\n${mail.html}`.matchAll(/\bhttps?:\/\/[^\s"'<>]+/g)].map((m) => m[0]);
  return [...hrefs, ...bare];
}

describe.each([false, true])(
  'links stay on the issuer whatever Host the request names (trustProxy %s)',
  (trustProxy) => {
    let h: AccountHarness;

    beforeAll(async () => {
      h = await startAccountHarness({
        trustProxy,
        recovery: {
          flowTtlSeconds: 3600,
          mailUnknownAddresses: true,
          perIp: { points: 100, durationSeconds: 3600 },
          perAddress: { points: 20, durationSeconds: 3600 },
          perAddressCeiling: { points: 40, durationSeconds: 3600 },
        },
      });
    });
    afterAll(async () => {
      await h?.close();
    });

    /** Redirects are relative, or absolute on the issuer; pages never name the spoofed host. */
    function expectOnIssuer(browser: SpoofingBrowser, pages: PageResponse[]): void {
      expect(browser.locations.length).toBeGreaterThan(0);
      for (const location of browser.locations) {
        expect(location.startsWith('/') && !location.startsWith('//') ? `${h.issuer}${location}` : location).toMatch(
          new RegExp(`^${h.issuer}/`),
        );
      }
      for (const page of pages) expect(page.body).not.toContain(EVIL);
    }

    /** The mail's links all lead to the issuer (or are mailto:), and the spoofed host is nowhere in it. */
    function expectMailOnIssuer(mail: CaughtMail): void {
      const links = linksIn(mail);
      expect(links.filter((link) => link.startsWith(`${h.issuer}/`)).length).toBeGreaterThan(0);
      for (const link of links) expect(link.startsWith(`${h.issuer}/`) || link.startsWith('mailto:')).toBe(true);
      expect(`${mail.subject}\n${mail.text}\n${mail.html}`).not.toContain(EVIL);
    }

    it('a completed reset: relative redirects, and the password-changed mail links to the issuer', async () => {
      const user = await registerUser(h.app, { locale: 'en' });
      const browser = new SpoofingBrowser(ENGLISH);
      const done = await resetByEmail(browser, h.issuer, h.mail, user.email, NEW_PASSWORD);
      expect(done.status).toBe(303);
      const landing = await browser.follow(done.location!);
      expectOnIssuer(browser, [landing]);
      expectMailOnIssuer(await h.mail.waitFor(user.email, (m) => m.subject === 'Your Monban password was changed'));
    });

    it('a reset for an unknown address (mailUnknownAddresses on): the notice links to the issuer', async () => {
      const email = newAddress('nobody');
      const browser = new SpoofingBrowser(ENGLISH);
      const codePage = await askForCode(browser, await startReset(browser, h.issuer, email), { channel: 'email' });
      expect(codePage.status).toBe(200);
      expectOnIssuer(browser, [codePage]);
      expectMailOnIssuer(await h.mail.waitFor(email, (m) => m.subject === 'Monban password reset request'));
    });

    it('forgot email by address and by account ID: the email-lookup mails link to the issuer', async () => {
      const user = await registerUser(h.app, { locale: 'en' });
      const browser = new SpoofingBrowser(ENGLISH);
      const form = await browser.request(`${h.issuer}/forgot-email`);
      const checked = await submitForm(browser, form, '/forgot-email', { identifier: user.email });
      expect(checked.body).toContain('id="checked-email"');
      const passwordForm = await submitForm(browser, form, '/forgot-email', { identifier: user.username });
      const found = await submitForm(browser, passwordForm, '/forgot-email/password', { password: TEST_PASSWORD });
      expect(found.body).toContain(`id="found-email">${user.email}<`);
      for (const page of [form, checked, passwordForm, found]) expect(page.body).not.toContain(EVIL);
      const lookups = await eventually(
        () => h.mail.mailsTo(user.email).length === 2 && h.mail.mailsTo(user.email),
        15_000,
        'two mails',
      );
      expect(lookups.map((m) => m.subject)).toEqual([
        'Your Monban email address was looked up',
        'Your Monban email address was looked up',
      ]);
      lookups.forEach(expectMailOnIssuer);
    });
  },
);
