/**
 * Issue 11 item 8: ending an account's sessions and tokens is recorded in PostgreSQL in the same
 * transaction as the change that ends them, so a Redis that refuses writes at that moment (it
 * cannot delete anything) leaves nothing usable behind. The Redis here is the test's own, on a
 * port of its own; it refuses writes while the last step of a reset runs.
 */
import { setAccountStatus } from '../../../src/identity/accounts/status.js';
import {
  ENGLISH,
  expectSentToLogin,
  isActive,
  NEW_PASSWORD,
  open,
  refresh,
  rpSignIn,
  signInToAccount,
  startAccountHarness,
  userinfo,
  type AccountHarness,
} from '../../helpers/account.js';
import { registerClient, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { EMBEDDED } from '../../helpers/env.js';
import { HttpClient } from '../../helpers/http-client.js';
import { startOwnRedis, type OwnRedis } from '../../helpers/own-redis.js';
import { askForCode, chooseNewPassword, enterResetCode, resetCodeByMail, startReset } from '../../helpers/recovery.js';
import { enableTotp } from '../../helpers/mfa.js';

// Needs a Redis to break: not on the embedded default.
(EMBEDDED ? describe.skip : describe)('revocation that survives a Redis refusing writes (issue 11 item 8)', () => {
  let redis: OwnRedis;
  let h: AccountHarness;
  let client: Awaited<ReturnType<typeof registerClient>>;

  beforeAll(async () => {
    redis = await startOwnRedis();
    try {
      h = await startAccountHarness({ redisUrl: redis.url });
    } catch (err) {
      await redis.stop();
      throw err;
    }
    client = await registerClient(h.app);
  });
  afterAll(async () => {
    await redis?.allowWrites().catch(() => undefined);
    await h?.close();
    await redis?.stop();
  });
  afterEach(async () => {
    await redis.allowWrites();
  });

  /** An account signed in at an app (with a refresh token) and, in another browser, in the console. */
  async function signedInTwice() {
    const user = await registerUser(h.app, { locale: 'en' });
    const tokens = await rpSignIn(new HttpClient(ENGLISH), h.issuer, client, user.email, TEST_PASSWORD, {
      scope: 'openid offline_access',
      prompt: 'consent',
    });
    const other = new HttpClient(ENGLISH);
    await signInToAccount(other, h.issuer, user.email);
    return { user, tokens, other };
  }

  /** Keys this app keeps in Redis that name `id` (a session's or grant's). */
  async function keysNaming(id: string): Promise<string[]> {
    return (await redis.client.keys(`${h.app.config.redisKeyPrefix}*`)).filter((key) => key.includes(id));
  }

  async function sessionIdsOf(accountId: string): Promise<string[]> {
    const rows = await h.app.db
      .selectFrom('account_sessions')
      .select('session_id')
      .where('account_id', '=', accountId)
      .execute();
    return rows.map((r) => r.session_id);
  }

  it('a reset whose revocation Redis refuses still ends the old session and the refresh token', async () => {
    const { user, tokens, other } = await signedInTwice();
    const [oldSession] = await sessionIdsOf(user.id);
    expect(oldSession).toBeDefined();

    // The reset, up to its last step, while Redis works.
    const browser = new HttpClient(ENGLISH);
    const codePage = await askForCode(browser, await startReset(browser, h.issuer, user.email), { channel: 'email' });
    const passwordPage = await enterResetCode(browser, codePage, await resetCodeByMail(h.mail, user.email));
    expect(passwordPage.status).toBe(200);

    await redis.refuseWrites();
    expect(
      await redis.client.set(`${h.app.config.redisKeyPrefix}probe`, '1').catch((err: unknown) => String(err)),
    ).toMatch(/NOREPLICAS/);
    const done = await chooseNewPassword(browser, passwordPage, NEW_PASSWORD);
    expect(done.status).toBe(303);

    // Redis could delete nothing: the old session and the tokens are still stored there...
    expect((await keysNaming(oldSession!)).length).toBeGreaterThan(0);
    // ...and none of them works, with Redis still refusing writes:
    const refreshed = await refresh(h.issuer, client, tokens.refresh_token!);
    expect([refreshed.status, refreshed.body.error]).toEqual([400, 'invalid_grant']);
    expect(await isActive(h.issuer, client, tokens.access_token)).toBe(false);
    expect(await isActive(h.issuer, client, tokens.refresh_token!)).toBe(false);
    expect((await userinfo(h.issuer, tokens.access_token)).status).toBe(401);
    const console = await open(other, h.issuer, '/account');
    expect(console.status).toBe(303);
    expect(new URL(console.location!).pathname).not.toBe('/account');

    // ...nor once Redis takes writes again.
    await redis.allowWrites();
    await expectSentToLogin(other, h.issuer, await open(other, h.issuer, '/account'));
    const again = await refresh(h.issuer, client, tokens.refresh_token!);
    expect([again.status, again.body.error]).toEqual([400, 'invalid_grant']);
    // The new password logs in.
    await signInToAccount(new HttpClient(ENGLISH), h.issuer, user.email, NEW_PASSWORD);
  });

  it('disabling an account while Redis refuses writes ends its sessions and tokens all the same', async () => {
    const { user, tokens, other } = await signedInTwice();
    await redis.refuseWrites();
    await setAccountStatus(h.app, user.id, { status: 'disabled', by: 'test' });
    expect(await isActive(h.issuer, client, tokens.refresh_token!)).toBe(false);
    const refreshed = await refresh(h.issuer, client, tokens.refresh_token!);
    expect(refreshed.status).toBe(400);
    await redis.allowWrites();
    await expectSentToLogin(other, h.issuer, await open(other, h.issuer, '/account'));
  });

  it('a new second factor ends the other sessions even if Redis never deletes them', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const changer = new HttpClient(ENGLISH);
    await signInToAccount(changer, h.issuer, user.email);
    const other = new HttpClient(ENGLISH);
    await signInToAccount(other, h.issuer, user.email);
    const sessions = await sessionIdsOf(user.id);
    expect(sessions).toHaveLength(2);

    // The setup checks the password and the code against counters in Redis, so Redis must take
    // writes during it. What Redis deletes afterwards is put back, as if the deletion was lost.
    const stored = await Promise.all(
      (await Promise.all(sessions.map(keysNaming))).flat().map(async (key) => ({
        key,
        dump: await redis.client.dumpBuffer(key),
      })),
    );
    expect(stored.length).toBeGreaterThan(0);
    await enableTotp(changer, h.issuer);
    for (const { key, dump } of stored) await redis.client.restore(key, 0, dump, 'REPLACE');
    for (const { key } of stored) expect(await redis.client.exists(key)).toBe(1);

    expect((await open(changer, h.issuer, '/account')).status).toBe(200);
    await expectSentToLogin(other, h.issuer, await open(other, h.issuer, '/account'));
  });
});
