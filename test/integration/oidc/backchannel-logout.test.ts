/**
 * OIDC Back-Channel Logout 1.0: a relying party registers a backchannel_logout_uri (admin API and
 * CLI) and, whenever a session it took part in ends, receives a logout token at it: signed by
 * Monban (verified with jose against the JWKS), with the logout event, the `sub` and the `sid`
 * of its ID token, and no nonce. Every way a session ends is covered; a relying party that is down
 * gets its token once it is back (the durable outbox's retries).
 */
import {
  agePassword,
  ENGLISH,
  NEW_PASSWORD,
  openAndSubmit,
  rpSignIn,
  signedInUser,
  startAccountHarness,
  type AccountHarness,
  type RpTokens,
} from '../../helpers/account.js';
import { AdminApiClient, registerAdminClient } from '../../helpers/admin-api.js';
import { authorizationUrl, exchangeCode, registerUser, RP_CALLBACK, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { formAction, HttpClient, hiddenInputs, loginThroughPages, submitForm } from '../../helpers/http-client.js';
import { BACKCHANNEL_LOGOUT_EVENT, LogoutRp } from '../../helpers/logout-rp.js';
import { resetByEmail } from '../../helpers/recovery.js';
import { jwtPayload } from '../../helpers/rp.js';
import { sql } from 'kysely';
import { sweepAccountIndexes } from '../../../src/oidc/revocation.js';

let h: AccountHarness;
let api: AdminApiClient;
beforeAll(async () => {
  h = await startAccountHarness();
  api = new AdminApiClient(h.issuer);
  await api.loadDocument();
  await api.authenticate(await registerAdminClient(h.app));
}, 60_000);
afterAll(() => h?.close());

/** A relying party with a logout endpoint on loopback, registered through the admin API. */
async function logoutRp(): Promise<{ rp: LogoutRp; client: { client_id: string; client_secret: string } }> {
  const rp = await new LogoutRp(h.issuer).start();
  const created = await api.call<{ client_id: string; client_secret: string; backchannel_logout_uri?: string }>(
    'POST',
    '/clients',
    {
      body: {
        client_name: 'Logout RP',
        redirect_uris: [RP_CALLBACK],
        post_logout_redirect_uris: ['http://localhost:8976/'],
        backchannel_logout_uri: rp.uri,
      },
    },
  );
  expect(created.status).toBe(201);
  expect(created.body.backchannel_logout_uri).toBe(rp.uri);
  rp.clientId = created.body.client_id;
  return { rp, client: created.body };
}

/** The user logs in at the RP in `browser`; the ID token carries the sid the logout token will name. */
async function signIn(browser: HttpClient, client: { client_id: string; client_secret: string }, email: string) {
  const auth = authorizationUrl(h.issuer, client.client_id, { scope: 'openid' });
  let last = await loginThroughPages(browser, auth.url, RP_CALLBACK, { email, password: TEST_PASSWORD });
  // Already logged in at Monban (single sign-on): only this RP's consent is asked.
  if (formAction(last.body, '/confirm'))
    last = await browser.follow((await submitForm(browser, last, '/confirm', {})).location!, RP_CALLBACK);
  const code = new URL(last.location!).searchParams.get('code')!;
  const tokens = (await (await exchangeCode(h.issuer, client, code, auth.verifier)).json()) as RpTokens;
  const claims = jwtPayload(tokens.id_token);
  expect(claims.sid).toEqual(expect.any(String));
  return { tokens, sub: claims.sub as string, sid: claims.sid as string };
}

function expectLogoutToken(token: Record<string, unknown>, rp: LogoutRp, expected: { sub: string; sid: string }) {
  expect(token).toMatchObject({ iss: h.issuer, aud: rp.clientId, sub: expected.sub, sid: expected.sid });
  expect(token.events).toEqual({ [BACKCHANNEL_LOGOUT_EVENT]: {} });
  expect(token).not.toHaveProperty('nonce');
}

test('discovery says back-channel logout with sessions is supported', async () => {
  const metadata = (await (await fetch(`${h.issuer}/.well-known/openid-configuration`)).json()) as Record<
    string,
    unknown
  >;
  expect(metadata.backchannel_logout_supported).toBe(true);
  expect(metadata.backchannel_logout_session_supported).toBe(true);
});

test('RP-initiated logout: every RP of the session gets a logout token naming its own sid', async () => {
  const user = await registerUser(h.app, { locale: 'en' });
  const first = await logoutRp();
  const second = await logoutRp();
  const browser = new HttpClient(ENGLISH);
  const a = await signIn(browser, first.client, user.email);
  const b = await signIn(browser, second.client, user.email);
  expect(a.sid).not.toBe(b.sid);

  const url = new URL(`${h.issuer}/session/end`);
  url.search = new URLSearchParams({ id_token_hint: a.tokens.id_token, client_id: first.client.client_id }).toString();
  const page = await browser.follow(url.toString());
  const done = await browser.request(`${h.issuer}/session/end/confirm`, {
    form: { ...hiddenInputs(page.body, '/session/end/confirm'), logout: 'yes' },
  });
  expect(done.status).toBeLessThan(400);

  expectLogoutToken((await first.rp.waitFor(1))[0]!, first.rp, a);
  expectLogoutToken((await second.rp.waitFor(1))[0]!, second.rp, b);
  expect([...first.rp.refused, ...second.rp.refused]).toEqual([]);
  await Promise.all([first.rp.stop(), second.rp.stop()]);
});

test('logging out in the account console tells the RPs of that session', async () => {
  const { rp, client } = await logoutRp();
  const { user, browser, hub } = await signedInUser(h);
  const signedIn = await signIn(browser, client, user.email);
  const answer = await browser.request(`${h.issuer}/account/logout`, {
    form: hiddenInputs(hub.body, '/account/logout'),
  });
  expect(answer.status).toBe(303);
  expectLogoutToken((await rp.waitFor(1))[0]!, rp, signedIn);
  await rp.stop();
});

test('a password change in the console logs the user out of the RP everywhere', async () => {
  const { rp, client } = await logoutRp();
  const { user, browser } = await signedInUser(h);
  await agePassword(h.app, user.id);
  // The same user at the RP from two other browsers: two sessions, two sids.
  const elsewhere = await signIn(new HttpClient(ENGLISH), client, user.email);
  const onPhone = await signIn(new HttpClient(ENGLISH), client, user.email);
  const answer = await openAndSubmit(browser, h.issuer, '/account/security/password', '/account/security/password', {
    current_password: TEST_PASSWORD,
    password: NEW_PASSWORD,
    password_confirmation: NEW_PASSWORD,
  });
  expect(answer.status).toBe(303);
  const tokens = await rp.waitFor(2);
  expect(tokens.map((t) => t.sid).sort()).toEqual([elsewhere.sid, onPhone.sid].sort());
  for (const token of tokens) expect(token.sub).toBe(user.id);
  await rp.stop();
});

test('a password reset ends the sessions at the RP', async () => {
  const { rp, client } = await logoutRp();
  const user = await registerUser(h.app, { locale: 'en' });
  const signedIn = await signIn(new HttpClient(ENGLISH), client, user.email);
  const answer = await resetByEmail(new HttpClient(ENGLISH), h.issuer, h.mail, user.email, NEW_PASSWORD);
  expect(answer.status).toBe(303);
  expectLogoutToken((await rp.waitFor(1))[0]!, rp, signedIn);
  await rp.stop();
});

test.each(['revoke-sessions', 'hold', 'disable'])('the admin API %s ends the sessions at the RP', async (action) => {
  const { rp, client } = await logoutRp();
  const user = await registerUser(h.app, { locale: 'en' });
  const signedIn = await signIn(new HttpClient(ENGLISH), client, user.email);
  const res = await api.call('POST', `/users/${user.id}/${action}`, { body: {} });
  expect(res.status).toBeLessThan(300);
  expectLogoutToken((await rp.waitFor(1))[0]!, rp, signedIn);
  await rp.stop();
});

test('a session that runs out (its lifetime, or unused too long) tells its RPs at the next sweep, once', async () => {
  const { rp, client } = await logoutRp();
  const idle = h.app.config.ttl.sessionIdle;
  const [expired, unused, alive] = await Promise.all([1, 2, 3].map(() => registerUser(h.app, { locale: 'en' })));
  const ran = await signIn(new HttpClient(ENGLISH), client, expired!.email);
  const idled = await signIn(new HttpClient(ENGLISH), client, unused!.email);
  await signIn(new HttpClient(ENGLISH), client, alive!.email);
  await h.app.db
    .updateTable('account_sessions')
    .set({ expires_at: sql<Date>`now() - interval '1 second'` })
    .where('account_id', '=', expired!.id)
    .execute();
  await h.app.db
    .updateTable('account_sessions')
    .set({ last_seen_at: sql<Date>`now() - make_interval(secs => ${idle + 60})` })
    .where('account_id', '=', unused!.id)
    .execute();
  // Two processes sweeping at once still send each notice once.
  await Promise.all([sweepAccountIndexes(h.app.db, idle), sweepAccountIndexes(h.app.db, idle)]);
  const tokens = await rp.waitFor(2);
  expect(Object.fromEntries(tokens.map((t) => [t.sub, t.sid]))).toEqual({
    [expired!.id]: ran.sid,
    [unused!.id]: idled.sid,
  });
  await sweepAccountIndexes(h.app.db, idle);
  const queued = await h.app.db
    .selectFrom('outbox')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('channel', '=', 'logout')
    .where('recipient', '=', client.client_id)
    .executeTakeFirstOrThrow();
  expect(Number(queued.n)).toBe(2);
  expect(rp.received).toHaveLength(2);
  await rp.stop();
});

test('an RP that is down gets its logout token once it is back, and the user never waits for it', async () => {
  const { rp, client } = await logoutRp();
  const { user, browser, hub } = await signedInUser(h);
  const signedIn = await signIn(browser, client, user.email);
  await rp.stop();
  const answer = await browser.request(`${h.issuer}/account/logout`, {
    form: hiddenInputs(hub.body, '/account/logout'),
  });
  expect(answer.status).toBe(303);
  // The courier has tried and failed at least once before the RP comes back.
  await waitUntil(async () => {
    const row = await h.app.db
      .selectFrom('outbox')
      .select(['attempts', 'last_error'])
      .where('channel', '=', 'logout')
      .where('recipient', '=', client.client_id)
      .executeTakeFirst();
    return (row?.attempts ?? 0) >= 1 && row?.last_error !== null;
  });
  await rp.start();
  expectLogoutToken((await rp.waitFor(1))[0]!, rp, signedIn);
  await rp.stop();
});

test('an RP without a backchannel_logout_uri gets nothing, and sid is in its ID tokens only when it has one', async () => {
  const user = await registerUser(h.app, { locale: 'en' });
  const plain = await api.call<{ client_id: string; client_secret: string }>('POST', '/clients', {
    body: { client_name: 'Plain RP', redirect_uris: [RP_CALLBACK] },
  });
  const tokens = await rpSignIn(new HttpClient(ENGLISH), h.issuer, plain.body, user.email, TEST_PASSWORD, {
    scope: 'openid',
  });
  expect(jwtPayload(tokens.id_token)).not.toHaveProperty('sid');
  await api.call('POST', `/users/${user.id}/revoke-sessions`, { body: {} });
  const rows = await h.app.db
    .selectFrom('outbox')
    .select('id')
    .where('channel', '=', 'logout')
    .where('recipient', '=', plain.body.client_id)
    .execute();
  expect(rows).toEqual([]);
});

test('the admin API refuses a backchannel_logout_uri that is not https (or loopback http), and PATCH null removes it', async () => {
  const bad = await api.call('POST', '/clients', {
    body: { client_name: 'Bad', redirect_uris: [RP_CALLBACK], backchannel_logout_uri: 'http://rp.example.com/logout' },
  });
  expect(bad.status).toBe(400);
  const { rp, client } = await logoutRp();
  await rp.stop();
  const patched = await api.call('PATCH', `/clients/${client.client_id}`, {
    body: { backchannel_logout_uri: null },
  });
  expect(patched.status).toBe(200);
  expect(patched.body).not.toHaveProperty('backchannel_logout_uri');
});

async function waitUntil(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 100));
}
