/**
 * PR3 sessions and apps: where the account is logged in (device, IP, last seen) and which apps
 * have access; each can be ended or revoked, with the password.
 */
import { sql } from 'kysely';
import {
  auditTypes,
  csrfOf,
  ENGLISH,
  expectSentToLogin,
  isActive,
  isConsentPage,
  landed,
  listedApps,
  listedSessions,
  open,
  refresh,
  rpSignIn,
  sessionIds,
  signedInUser,
  signInToAccount,
  startAccountHarness,
  type AccountHarness,
} from '../../helpers/account.js';
import { authorizationUrl, en, registerClient, RP_CALLBACK, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { expectNoInternals, HttpClient, submitForm } from '../../helpers/http-client.js';
import { formErrors, noticeText } from '../../helpers/signup-pages.js';

const CHROME_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

describe('account console: sessions and apps (PR3)', () => {
  let h: AccountHarness;
  beforeAll(async () => {
    h = await startAccountHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('lists every browser the account is logged in with, marks this one, and logs another one out', async () => {
    const { user, browser } = await signedInUser(h, { headers: { 'user-agent': CHROME_WINDOWS } });
    const other = new HttpClient({ ...ENGLISH, 'user-agent': FIREFOX_LINUX });
    await signInToAccount(other, h.issuer, user.email);

    const security = await open(browser, h.issuer, '/account/security');
    const sessions = listedSessions(security.body);
    expect(sessions).toHaveLength(2);
    expect(new Set(sessions.map((s) => s.id))).toEqual(new Set(await sessionIds(h.app, user.id)));
    const mine = sessions.find((s) => s.current)!;
    const theirs = sessions.find((s) => !s.current)!;
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    expect(mine.text).toMatch(
      /^Chrome 126 · Windows · (127\.0\.0\.1|::1|::ffff:127\.0\.0\.1) · last seen [A-Z][a-z]+ \d{1,2}, \d{4} at \d{1,2}:\d\d [AP]M Coordinated Universal Time \(this browser\)$/,
    );
    expect(theirs.text).toMatch(
      /^Firefox 128 · Linux · .+ · last seen [A-Z][a-z]+ \d{1,2}, \d{4} at \d{1,2}:\d\d [AP]M Coordinated Universal Time$/,
    );
    // The other browser sees the same two, with itself marked.
    const fromOther = listedSessions((await open(other, h.issuer, '/account/security')).body);
    expect(fromOther.find((s) => s.current)?.id).toBe(theirs.id);

    // A wrong password ends nothing.
    const wrong = await submitForm(browser, security, '/account/security/sessions/end', {
      session_id: theirs.id,
      current_password: 'Wrong-Password-1!',
    });
    expect(wrong.status).toBe(401);
    expect(formErrors(wrong.body)).toEqual([en('errors.CURRENT_PASSWORD_WRONG')]);
    expect((await open(other, h.issuer, '/account')).status).toBe(200);

    const ended = await submitForm(browser, security, '/account/security/sessions/end', {
      session_id: theirs.id,
      current_password: TEST_PASSWORD,
    });
    expect(ended.location).toBe(`${h.issuer}/account/security?done=session-ended`);
    const after = await landed(browser, ended);
    expect(noticeText(after.body)).toBe(en('account.done.session-ended'));
    expect(listedSessions(after.body).map((s) => s.id)).toEqual([mine.id]);
    expect(await auditTypes(h.app, user.id)).toContain('session.ended');

    // That browser is logged out; this one is not.
    await expectSentToLogin(other, h.issuer, await open(other, h.issuer, '/account'));
    expect((await open(browser, h.issuer, '/account')).status).toBe(200);
  });

  it('asks for the password once for the page; each button names its session; "sign out everywhere else" keeps this browser', async () => {
    const { user, browser } = await signedInUser(h, { headers: { 'user-agent': CHROME_WINDOWS } });
    const firefox = new HttpClient({ ...ENGLISH, 'user-agent': FIREFOX_LINUX });
    const third = new HttpClient(ENGLISH);
    await signInToAccount(firefox, h.issuer, user.email);
    await signInToAccount(third, h.issuer, user.email);

    let security = await open(browser, h.issuer, '/account/security');
    // One password box for the whole page, however many sessions and apps are listed.
    expect(security.body.match(/name="current_password"/g)).toHaveLength(1);
    expect(security.body).toMatch(/<form method="post" action="\/account\/security\/reauth"/);
    const firefoxRow = listedSessions(security.body).find((s) => s.text.startsWith('Firefox'))!;
    const ip = firefoxRow.text.split(' · ')[2]!;
    expect(security.body).toContain(
      `aria-label="${en('account.security.endSessionLabel', { device: 'Firefox 128 · Linux', ip })}">${en('account.security.endSession')}</button>`,
    );

    // Without the password confirmed, nothing ends, and the page says where to confirm it.
    const early = await submitForm(browser, security, '/account/security/sessions/end-others', {});
    expect(early.status).toBe(400);
    expect(formErrors(early.body)).toEqual([en('errors.REAUTH_REQUIRED')]);
    expect(await sessionIds(h.app, user.id)).toHaveLength(3);

    const wrong = await submitForm(browser, security, '/account/security/reauth', {
      current_password: 'Wrong-1-Pass!',
    });
    expect(wrong.status).toBe(401);
    expect(formErrors(wrong.body)).toEqual([en('errors.CURRENT_PASSWORD_WRONG')]);
    const right = await submitForm(browser, security, '/account/security/reauth', { current_password: TEST_PASSWORD });
    expect(right.location).toBe(`${h.issuer}/account/security`);
    security = await landed(browser, right);
    expect(security.body).not.toContain('name="current_password"');
    expect(security.body).toContain(en('account.security.reauthFresh'));

    const others = await submitForm(browser, security, '/account/security/sessions/end-others', {});
    expect(others.location).toBe(`${h.issuer}/account/security?done=others-ended`);
    const after = await landed(browser, others);
    expect(noticeText(after.body)).toBe(en('account.done.others-ended'));
    const mine = listedSessions(after.body);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.current).toBe(true);
    expect(after.body).not.toContain('action="/account/security/sessions/end-others"');
    expect(await sessionIds(h.app, user.id)).toEqual([mine[0]!.id]);
    await expectSentToLogin(firefox, h.issuer, await open(firefox, h.issuer, '/account'));
    await expectSentToLogin(third, h.issuer, await open(third, h.issuer, '/account'));
    expect((await open(browser, h.issuer, '/account')).status).toBe(200);
  });

  it("ending this browser's own session logs it out", async () => {
    const { user, browser } = await signedInUser(h);
    const security = await open(browser, h.issuer, '/account/security');
    const [mine] = listedSessions(security.body);
    const ended = await submitForm(browser, security, '/account/security/sessions/end', {
      session_id: mine!.id,
      current_password: TEST_PASSWORD,
    });
    expect(ended.location).toBe(`${h.issuer}/account/logged-out`);
    const page = await landed(browser, ended);
    expect(page.body).toContain(en('account.loggedOut.body'));
    await expectSentToLogin(browser, h.issuer, await open(browser, h.issuer, '/account/security'));
    expect(await sessionIds(h.app, user.id)).toEqual([]);
  });

  it('cannot end a session of another account', async () => {
    const { user, browser } = await signedInUser(h);
    const { user: neighbour, browser: neighbourBrowser } = await signedInUser(h);
    const [victim] = await sessionIds(h.app, neighbour.id);

    const security = await open(browser, h.issuer, '/account/security');
    const answer = await submitForm(browser, security, '/account/security/sessions/end', {
      session_id: victim!,
      current_password: TEST_PASSWORD,
    });
    expect(answer.status).toBeLessThan(500);
    expectNoInternals(answer);
    expect(await sessionIds(h.app, neighbour.id)).toEqual([victim]);
    expect((await open(neighbourBrowser, h.issuer, '/account')).status).toBe(200);
    expect(await auditTypes(h.app, user.id)).not.toContain('session.ended');
    // Nor a made-up one; both leave this browser signed in.
    await submitForm(browser, security, '/account/security/sessions/end', {
      session_id: 'no-such-session',
      current_password: TEST_PASSWORD,
    });
    expect((await open(browser, h.issuer, '/account')).status).toBe(200);
  });

  it('lists the apps given access, and revoking one kills its tokens and asks for consent again', async () => {
    const { user, browser } = await signedInUser(h);
    let security = await open(browser, h.issuer, '/account/security');
    expect(listedApps(security.body)).toEqual([]);
    expect(security.body).toContain(en('account.security.noApps'));

    const client = await registerClient(h.app);
    const rpBrowser = new HttpClient(ENGLISH);
    const tokens = await rpSignIn(rpBrowser, h.issuer, client, user.email, TEST_PASSWORD, {
      scope: 'openid offline_access',
      prompt: 'consent',
    });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    // Having consented, the app signs the user in without asking again.
    const silent = await rpBrowser.follow(
      authorizationUrl(h.issuer, client.client_id, { scope: 'openid' }).url,
      RP_CALLBACK,
    );
    expect(silent.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));

    security = await open(browser, h.issuer, '/account/security');
    // The app, by name; the console itself is not an app to revoke.
    expect(listedApps(security.body)).toEqual([client.client_id]);
    expect(security.body).toMatch(/<span>Test RP · since [A-Z][a-z]+ \d{1,2}, \d{4}<\/span>/);
    // A login from another browser leaves a second grant: the app is listed once, since the first.
    await rpSignIn(new HttpClient(ENGLISH), h.issuer, client, user.email, TEST_PASSWORD);
    const grants = await h.app.db
      .selectFrom('account_grants')
      .select('grant_id')
      .where('account_id', '=', user.id)
      .where('client_id', '=', client.client_id)
      .orderBy('created_at')
      .execute();
    expect(grants).toHaveLength(2);
    // created_at is never updated by the app (its column type says so); the test moves it back.
    await sql`update account_grants set created_at = '2025-01-15T03:00:00Z' where grant_id = ${grants[0]!.grant_id}`.execute(
      h.app.db,
    );
    security = await open(browser, h.issuer, '/account/security');
    expect(listedApps(security.body)).toEqual([client.client_id]);
    expect(security.body).toContain('<span>Test RP · since January 15, 2025</span>');

    const wrong = await submitForm(browser, security, '/account/security/apps/revoke', {
      client_id: client.client_id,
      current_password: 'Wrong-Password-1!',
    });
    expect(wrong.status).toBe(401);
    expect(formErrors(wrong.body)).toEqual([en('errors.CURRENT_PASSWORD_WRONG')]);
    expect(await isActive(h.issuer, client, tokens.access_token)).toBe(true);

    const revoked = await submitForm(browser, security, '/account/security/apps/revoke', {
      client_id: client.client_id,
      current_password: TEST_PASSWORD,
    });
    expect(revoked.location).toBe(`${h.issuer}/account/security?done=app-revoked`);
    const after = await landed(browser, revoked);
    expect(noticeText(after.body)).toBe(en('account.done.app-revoked'));
    expect(listedApps(after.body)).toEqual([]);
    expect(await auditTypes(h.app, user.id)).toContain('app.revoked');

    const refreshed = await refresh(h.issuer, client, tokens.refresh_token!);
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
    expect(await isActive(h.issuer, client, tokens.access_token)).toBe(false);

    // Still logged in at Monban, but the app has to ask for consent again.
    const next = await rpBrowser.follow(
      authorizationUrl(h.issuer, client.client_id, { scope: 'openid' }).url,
      RP_CALLBACK,
    );
    expect(next.location).toBeUndefined();
    expect(isConsentPage(next)).toBe(true);
    expect(next.body).toContain('Test RP');
    // The console's own session is untouched.
    expect((await open(browser, h.issuer, '/account')).status).toBe(200);
  });

  it('the apps list costs the same statements for one app or three, and never reads a client row', async () => {
    const { user, browser } = await signedInUser(h);
    /** The page's own statements (the courier may send a mail meanwhile: not the page's). */
    const statementsOfPage = async () => {
      await open(browser, h.issuer, '/account/security'); // a new app's name is cached once per process
      const { log } = await h.app.counters.measure(() => open(browser, h.issuer, '/account/security'));
      return log.filter((line) => line.startsWith('sql:') && !line.includes('"outbox"'));
    };
    const clients = [await registerClient(h.app), await registerClient(h.app), await registerClient(h.app)];
    await rpSignIn(new HttpClient(ENGLISH), h.issuer, clients[0]!, user.email, TEST_PASSWORD);
    const withOne = await statementsOfPage();
    for (const client of clients.slice(1)) {
      await rpSignIn(new HttpClient(ENGLISH), h.issuer, client, user.email, TEST_PASSWORD);
    }
    const withThree = await statementsOfPage();
    expect(listedApps((await open(browser, h.issuer, '/account/security')).body).sort()).toEqual(
      clients.map((c) => c.client_id).sort(),
    );
    expect(withThree.filter((line) => line.includes('oidc_clients'))).toEqual([]);
    expect(withThree).toEqual(withOne);
  });

  it("cannot revoke another account's app", async () => {
    const { user, browser } = await signedInUser(h);
    const { user: neighbour } = await signedInUser(h);
    const client = await registerClient(h.app);
    const tokens = await rpSignIn(new HttpClient(ENGLISH), h.issuer, client, neighbour.email, TEST_PASSWORD, {
      scope: 'openid offline_access',
      prompt: 'consent',
    });

    const security = await open(browser, h.issuer, '/account/security');
    for (const clientId of [client.client_id, 'monban-account']) {
      const answer = await browser.request(`${h.issuer}/account/security/apps/revoke`, {
        form: { _csrf: csrfOf(security.body), client_id: clientId, current_password: TEST_PASSWORD },
      });
      expect(answer.status).toBeLessThan(500);
      expectNoInternals(answer);
    }
    expect((await refresh(h.issuer, client, tokens.refresh_token!)).status).toBe(200);
    expect(await auditTypes(h.app, user.id)).not.toContain('app.revoked');
    // Trying to revoke the console itself did not log this browser out.
    expect((await open(browser, h.issuer, '/account')).status).toBe(200);
  });
});
