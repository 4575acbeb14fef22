/**
 * Issue 11 item 12: a signed-in session ends after `ttl.sessionIdle` without use and, used or
 * not, `ttl.session` after its login. The console, an application asking with prompt=none and a
 * normal authorization request all see the end. Real PostgreSQL + Redis; the lifetimes are
 * configured in seconds so the clocks run out during the test.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ENGLISH,
  isActive,
  isLoginPage,
  listedSessions,
  open,
  rpSignIn,
  signInToAccount,
  startAccountHarness,
  type AccountHarness,
} from '../../helpers/account.js';
import { authorizationUrl, registerClient, registerUser, RP_CALLBACK, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages } from '../../helpers/http-client.js';

const IDLE_SECONDS = 8;
const ABSOLUTE_SECONDS = 24;
/** Uses come this often: well inside the idle time, even when a request takes a few seconds. */
const USE_EVERY_MS = 2_500;

describe('session lifetime: idle timeout and absolute limit (issue 11 item 12)', () => {
  let h: AccountHarness;
  let client: Awaited<ReturnType<typeof registerClient>>;

  beforeAll(async () => {
    h = await startAccountHarness({ ttl: { sessionIdle: IDLE_SECONDS, session: ABSOLUTE_SECONDS } });
    client = await registerClient(h.app);
  });
  afterAll(async () => {
    await h?.close();
  });

  /** The console as the browser gets it: the hub when signed in, else (through /auth) the login page. */
  async function consoleSignedIn(browser: HttpClient): Promise<boolean> {
    const page = await browser.follow(`${h.issuer}/account`, `${h.issuer}/account/callback`);
    // A signed-in session passes the login silently: the console's callback, then the hub.
    if (page.location?.startsWith(`${h.issuer}/account/callback`)) {
      const hub = await browser.follow(page.location);
      expect([hub.status, hub.url]).toEqual([200, `${h.issuer}/account`]);
      return true;
    }
    if (page.url === `${h.issuer}/account` && page.status === 200) return true;
    expect(isLoginPage(page)).toBe(true);
    return false;
  }

  /** What the application gets when it asks silently: a code, or login_required. */
  async function silentAnswer(browser: HttpClient): Promise<string> {
    const res = await browser.follow(authorizationUrl(h.issuer, client.client_id, { prompt: 'none' }).url, RP_CALLBACK);
    const location = new URL(res.location ?? 'http://invalid/');
    expect(`${location.origin}${location.pathname}`).toBe(RP_CALLBACK);
    return location.searchParams.has('code') ? 'code' : (location.searchParams.get('error') ?? 'none');
  }

  /** A normal authorization request from the application: the login page, or a code at once. */
  async function normalRequestShowsLogin(browser: HttpClient): Promise<boolean> {
    const res = await browser.follow(authorizationUrl(h.issuer, client.client_id).url, RP_CALLBACK);
    if (res.location?.startsWith(RP_CALLBACK)) return false;
    expect(isLoginPage(res)).toBe(true);
    return true;
  }

  /** The browser uses its session once: the console and the application's silent request in turn. */
  async function use(browser: HttpClient, turn: number): Promise<boolean> {
    return turn % 2 === 0 ? consoleSignedIn(browser) : (await silentAnswer(browser)) === 'code';
  }

  async function idleScenario(): Promise<void> {
    const user = await registerUser(h.app, { locale: 'en' });
    const active = new HttpClient(ENGLISH);
    const tokens = await rpSignIn(active, h.issuer, client, user.email, TEST_PASSWORD);
    const idle = new HttpClient(ENGLISH);
    await signInToAccount(idle, h.issuer, user.email);

    // Used every 2.5 s for longer than the idle time: the session stays.
    const start = Date.now();
    for (let turn = 0; Date.now() - start < (IDLE_SECONDS + 4) * 1000; turn += 1) {
      await sleep(USE_EVERY_MS);
      expect(await use(active, turn)).toBe(true);
    }
    // The browser left alone since its login is gone from the session list of the one in use...
    const listed = listedSessions((await open(active, h.issuer, '/account/security')).body);
    expect(listed).toHaveLength(1);
    expect(listed[0]?.current).toBe(true);
    // ...and is sent to the login.
    expect(await consoleSignedIn(idle)).toBe(false);

    // Now the used one is left alone for longer than the idle time.
    await sleep((IDLE_SECONDS + 2) * 1000);
    // An access token that lives with the session (no offline_access) ends with it.
    expect(await isActive(h.issuer, client, tokens.access_token)).toBe(false);
    expect(await silentAnswer(active)).toBe('login_required');
    expect(await normalRequestShowsLogin(active)).toBe(true);
    expect(await consoleSignedIn(active)).toBe(false);
  }

  async function absoluteScenario(): Promise<void> {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new HttpClient(ENGLISH);
    await rpSignIn(browser, h.issuer, client, user.email, TEST_PASSWORD);
    const loggedIn = Date.now();
    const elapsed = () => (Date.now() - loggedIn) / 1000;

    // Used every 2.5 s (never idle) until past the absolute limit; the login happened just
    // before `loggedIn`, so the session is certainly alive up to 8 s before the limit.
    for (let turn = 0; elapsed() < ABSOLUTE_SECONDS + 1; turn += 1) {
      await sleep(USE_EVERY_MS);
      const before = elapsed();
      const signedIn = await use(browser, turn);
      if (before < ABSOLUTE_SECONDS - 8) expect(signedIn).toBe(true);
    }
    expect(await silentAnswer(browser)).toBe('login_required');
    expect(await consoleSignedIn(browser)).toBe(false);
    expect(await normalRequestShowsLogin(browser)).toBe(true);

    // Logging in again starts a new session with a new limit.
    const last = await loginThroughPages(browser, `${h.issuer}/account`, `${h.issuer}/account/callback`, {
      email: user.email,
      password: TEST_PASSWORD,
    });
    expect(last.location).toMatch(new RegExp(`^${h.issuer}/account/callback\\?`));
    expect(await consoleSignedIn(browser)).toBe(true);
  }

  it('ends a session left idle and one past its absolute lifetime, for the console, prompt=none and the login', async () => {
    // The two clocks run side by side (about 30 s) rather than one after the other.
    await Promise.all([idleScenario(), absoluteScenario()]);
  }, 120_000);
});
