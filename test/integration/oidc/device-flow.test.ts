/**
 * The device authorization grant (RFC 8628) with openid-client as the CLI: it asks for a user
 * code, a browser enters the code at /device, logs in through our pages (the second step
 * included) and consents, and the CLI's polling gets tokens for that user. Wrong, expired,
 * cancelled and denied requests, and the user code throttle under 50 parallel submissions.
 */
import * as client from 'openid-client';
import { clientMetadata, DEVICE_CODE_GRANT, inputFromRegistration } from '../../../src/admin/clients.js';
import { ACR } from '../../../src/oidc/acr.js';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { AdminApiClient, registerAdminClient } from '../../helpers/admin-api.js';
import { en, ja, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import {
  alertText,
  expectNoInternals,
  formAction,
  HttpClient,
  loginThroughPages,
  submitForm,
  type PageResponse,
} from '../../helpers/http-client.js';
import { passSecondStep, totpCode, userWithTotp } from '../../helpers/mfa.js';

const POLL_SECONDS = 1;
const PER_IP = 20;
const PER_CODE = 10;

let t: TestApp;
let cli: client.Configuration;
let clientId: string;
beforeAll(async () => {
  t = await startTestApp({
    overrides: {
      // Each browser below comes from an address of its own (X-Forwarded-For), so that one test's
      // throttle leaves the others alone.
      trustProxy: true,
      deviceFlow: {
        pollIntervalSeconds: POLL_SECONDS,
        perIp: { points: PER_IP, durationSeconds: 600 },
        perCode: { points: PER_CODE, durationSeconds: 600 },
      },
    },
  });
  const api = new AdminApiClient(t.issuer);
  await api.loadDocument();
  await api.authenticate(await registerAdminClient(t.app));
  const created = await api.call<{ client_id: string; grant_types: string[] }>('POST', '/clients', {
    body: { client_name: 'Kaisha CLI', grant_types: [DEVICE_CODE_GRANT], token_endpoint_auth_method: 'none' },
  });
  expect(created.body).toMatchObject({ grant_types: [DEVICE_CODE_GRANT] });
  expect(created.status).toBe(201);
  clientId = created.body.client_id;
  cli = await publicClient(clientId);
}, 60_000);
afterAll(() => t.close());

function publicClient(id: string): Promise<client.Configuration> {
  return client.discovery(new URL(t.issuer), id, { token_endpoint_auth_method: 'none' }, client.None(), {
    // The test issuer is plain http on loopback; openid-client marks the escape hatch deprecated.
    // eslint-disable-next-line @typescript-eslint/no-deprecated
    execute: [client.allowInsecureRequests],
  });
}

let addresses = 0;
/** A browser of its own, from an address of its own. */
function browser(language: 'en' | 'ja' = 'en', ip = `198.51.100.${(addresses += 1)}`): HttpClient {
  return new HttpClient({ 'accept-language': language, 'x-forwarded-for': ip });
}

/** Opens /device and submits a user code; the answer (not followed). */
async function enterCode(b: HttpClient, userCode: string): Promise<PageResponse> {
  const page = await b.request(`${t.issuer}/device`);
  expect(page.status).toBe(200);
  return submitForm(b, page, '/device', { user_code: userCode });
}

const NEVER = 'never:';

/** From the confirmation page through "Continue", the login pages and consent, to the page that ends it. */
async function confirmAndLogIn(
  b: HttpClient,
  confirm: PageResponse,
  email: string,
  consent = true,
): Promise<PageResponse> {
  const next = await submitForm(b, confirm, '/device', { confirm: 'yes' });
  expect(next.location).toMatch(/\/interaction\//);
  return loginThroughPages(b, next.location!, NEVER, { email, password: TEST_PASSWORD, consent });
}

test('a CLI logs in with the device flow: code at /device, login, consent, tokens for the user', async () => {
  const user = await registerUser(t.app, { locale: 'en' });
  const started = await client.initiateDeviceAuthorization(cli, { scope: 'openid email' });
  expect(started.verification_uri).toBe(`${t.issuer}/device`);
  expect(started.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  expect(started.interval).toBe(POLL_SECONDS);
  // The CLI polls from the start: authorization_pending until the user has finished.
  const polling = client.pollDeviceAuthorizationGrant(cli, started);

  const b = browser('en');
  const entry = await b.request(started.verification_uri);
  expect(entry.body).toContain(en('device.heading'));
  expect(entry.body).toContain('id="language-menu"');
  // Typed in lower case and without the dash, as people do.
  const confirm = await submitForm(b, entry, '/device', {
    user_code: started.user_code.replace('-', '').toLowerCase(),
  });
  expect(confirm.status).toBe(200);
  expect(confirm.body).toContain(en('device.confirmHeading', { client: 'Kaisha CLI' }));
  expect(confirm.body).toContain(started.user_code);
  const done = await confirmAndLogIn(b, confirm, user.email);
  expect(done.status).toBe(200);
  expect(done.body).toContain(en('device.doneHeading'));
  expect(done.body).toContain(en('device.done', { client: 'Kaisha CLI' }));

  const tokens = await polling;
  expect(tokens.claims()?.sub).toBe(user.id);
  expect(tokens.claims()?.email).toBe(user.email);
  const info = await client.fetchUserInfo(cli, tokens.access_token, user.id);
  expect(info.email).toBe(user.email);

  // The code is used up: entering it again is refused like a wrong one.
  const again = await enterCode(browser('en'), started.user_code);
  expect(again.status).toBe(400);
  expect(alertText(again.body)).toBe(en('errors.DEVICE_CODE_WRONG'));
});

test('an account with two-step verification passes its second step; the link with the code skips typing it', async () => {
  const { user, secret } = await userWithTotp({ app: t.app, issuer: t.issuer });
  const started = await client.initiateDeviceAuthorization(cli, { scope: 'openid' });
  const b = browser('ja');
  // verification_uri_complete: the page posts the code itself (a form a script submits).
  const autoPost = await b.request(started.verification_uri_complete!);
  const confirm = await submitForm(b, autoPost, '/device', {});
  expect(confirm.body).toContain(ja('device.confirmHeading', { client: 'Kaisha CLI' }));
  const second = await confirmAndLogIn(b, confirm, user.email);
  expect(formAction(second.body, '/mfa/totp')).toBeDefined();
  const passed = await passSecondStep(b, second, { code: totpCode(secret, 1) });
  const consent = await b.follow(passed.location!, NEVER);
  // The consent form resumes the device flow itself: its answer is the page that says it is done.
  const done = await submitForm(b, consent, '/confirm', {});
  expect(done.body).toContain(ja('device.doneHeading'));

  const tokens = await client.pollDeviceAuthorizationGrant(cli, started);
  const claims = tokens.claims()!;
  expect(claims.sub).toBe(user.id);
  expect(claims.acr).toBe(ACR.mfa);
  expect(claims.amr).toEqual(expect.arrayContaining(['pwd', 'otp']));
});

test('a wrong code is refused with a message in the page language, the typed code kept', async () => {
  const wrongEn = await enterCode(browser('en'), 'BBBB-BBBB');
  expect(wrongEn.status).toBe(400);
  expect(alertText(wrongEn.body)).toBe(en('errors.DEVICE_CODE_WRONG'));
  expect(wrongEn.body).toContain('value="BBBB-BBBB"');
  expectNoInternals(wrongEn);
  const wrongJa = await enterCode(browser('ja'), 'BBBB-BBBB');
  expect(alertText(wrongJa.body)).toBe(ja('errors.DEVICE_CODE_WRONG'));
  const empty = await enterCode(browser('en'), '');
  expect(empty.status).toBe(400);
  expect(alertText(empty.body)).toBe(en('errors.DEVICE_CODE_REQUIRED'));
  // A form whose token is not this browser's (another tab, a forged post) is refused too.
  const b = browser('en');
  const page = await b.request(`${t.issuer}/device`);
  const forged = await b.request(`${t.issuer}/device`, { form: { xsrf: 'x', user_code: 'BBBB-BBBB' } });
  expect(forged.status).toBe(400);
  expect(alertText(forged.body)).toBe(en('errors.DEVICE_FORM_EXPIRED'));
  expect(page.status).toBe(200);
});

/** `n` browsers from one address (or each from its own), each with its own /device page, all posting at once. */
async function parallelSubmissions(n: number, codeOf: (i: number) => string, ip?: string): Promise<PageResponse[]> {
  const browsers = Array.from({ length: n }, () => (ip ? browser('en', ip) : browser('en')));
  const pages = await Promise.all(browsers.map((b) => b.request(`${t.issuer}/device`)));
  return Promise.all(browsers.map((b, i) => submitForm(b, pages[i]!, '/device', { user_code: codeOf(i) })));
}

const statuses = (answers: PageResponse[]) =>
  answers.reduce<Record<number, number>>((count, a) => ({ ...count, [a.status]: (count[a.status] ?? 0) + 1 }), {});

test('50 parallel guesses from one address: only the per-IP limit is looked up, the rest get 429 with a message', async () => {
  const ip = '203.0.113.50';
  const guesses = await parallelSubmissions(
    50,
    (i) => `ZZZZ-${'BCDFGHJKLM'[Math.floor(i / 10)]}${'BCDFGHJKLM'[i % 10]}ZZ`,
    ip,
  );
  expect(statuses(guesses)).toEqual({ 400: PER_IP, 429: 50 - PER_IP });
  for (const refused of guesses.filter((g) => g.status === 429)) {
    expect(alertText(refused.body)).toBe(en('errors.TOO_MANY_ATTEMPTS', { minutes: 10 }));
    expectNoInternals({ ...refused, status: 200 });
  }
  // A right code from that address is refused as well now, in Japanese for a Japanese browser.
  const started = await client.initiateDeviceAuthorization(cli, { scope: 'openid' });
  const late = await enterCode(browser('ja', ip), started.user_code);
  expect(late.status).toBe(429);
  expect(alertText(late.body)).toBe(ja('errors.TOO_MANY_ATTEMPTS', { minutes: 10 }));
  // Another address is not affected.
  const other = await enterCode(browser('en'), started.user_code);
  expect(other.status).toBe(200);
  expect(other.body).toContain(en('device.confirmHeading', { client: 'Kaisha CLI' }));
});

test('50 parallel submissions of one code from 50 addresses: only the per-code limit get through', async () => {
  const started = await client.initiateDeviceAuthorization(cli, { scope: 'openid' });
  const answers = await parallelSubmissions(50, () => started.user_code);
  expect(statuses(answers)).toEqual({ 200: PER_CODE, 429: 50 - PER_CODE });
  for (const shown of answers.filter((a) => a.status === 200))
    expect(shown.body).toContain(en('device.confirmHeading', { client: 'Kaisha CLI' }));
  for (const refused of answers.filter((a) => a.status === 429))
    expect(alertText(refused.body)).toBe(en('errors.TOO_MANY_ATTEMPTS', { minutes: 10 }));
});

/** What the CLI's polling ends with when it does not get tokens. */
async function pollError(started: client.DeviceAuthorizationResponse, cfg = cli): Promise<string> {
  const err: unknown = await client
    .pollDeviceAuthorizationGrant(cfg, started, undefined, { signal: AbortSignal.timeout(20_000) })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  return (err as { error?: string } | undefined)?.error ?? String(err);
}

test('"Cancel" on the confirmation page, or "Deny" at consent, ends the poll with access_denied', async () => {
  const cancelled = await client.initiateDeviceAuthorization(cli, { scope: 'openid' });
  const b = browser('en');
  const confirm = await enterCode(b, cancelled.user_code);
  const aborted = await submitForm(b, confirm, '/device', { abort: 'yes' });
  expect(aborted.status).toBe(200);
  expect(aborted.body).toContain(en('device.aborted'));
  expect(await pollError(cancelled)).toBe('access_denied');

  const user = await registerUser(t.app, { locale: 'en' });
  const denied = await client.initiateDeviceAuthorization(cli, { scope: 'openid' });
  const b2 = browser('en');
  const consent = await confirmAndLogIn(b2, await enterCode(b2, denied.user_code), user.email, false);
  expect(consent.body).toContain(en('consent.deny'));
  const refused = await submitForm(b2, consent, '/abort', {});
  expect(refused.body).toContain(en('device.aborted'));
  expect(await pollError(denied)).toBe('access_denied');
});

test('polling faster than the interval is told slow_down', async () => {
  const started = await client.initiateDeviceAuthorization(cli, { scope: 'openid' });
  const poll = () =>
    fetch(`${t.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: DEVICE_CODE_GRANT,
        device_code: started.device_code,
        client_id: clientId,
      }),
    }).then(async (res) => ({ status: res.status, body: (await res.json()) as { error: string } }));
  expect(await poll()).toEqual({ status: 400, body: expect.objectContaining({ error: 'authorization_pending' }) });
  expect(await poll()).toEqual({ status: 400, body: expect.objectContaining({ error: 'slow_down' }) });
  await new Promise((resolve) => setTimeout(resolve, POLL_SECONDS * 1000 + 100));
  expect(await poll()).toEqual({ status: 400, body: expect.objectContaining({ error: 'authorization_pending' }) });
});

test('an expired request ends the poll with expired_token, and its code is refused at /device', async () => {
  const short = await startTestApp({ overrides: { ttl: { deviceCode: 2 }, deviceFlow: { pollIntervalSeconds: 1 } } });
  try {
    const api = new AdminApiClient(short.issuer);
    await api.loadDocument();
    await api.authenticate(await registerAdminClient(short.app));
    const created = await api.call<{ client_id: string }>('POST', '/clients', {
      body: { client_name: 'Short CLI', grant_types: [DEVICE_CODE_GRANT], token_endpoint_auth_method: 'none' },
    });
    const cfg = await client.discovery(
      new URL(short.issuer),
      created.body.client_id,
      { token_endpoint_auth_method: 'none' },
      client.None(),
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      { execute: [client.allowInsecureRequests] },
    );
    const started = await client.initiateDeviceAuthorization(cfg, { scope: 'openid' });
    expect(started.expires_in).toBe(2);
    expect(await pollError(started, cfg)).toBe('expired_token');
    const b = new HttpClient({ 'accept-language': 'en' });
    const page = await b.request(`${short.issuer}/device`);
    const late = await submitForm(b, page, '/device', { user_code: started.user_code });
    expect(late.status).toBe(400);
    expect(alertText(late.body)).toBe(en('errors.DEVICE_CODE_WRONG'));
  } finally {
    await short.close();
  }
});

test('a client registers for the device flow through the CLI flag; other grants stay refused', () => {
  const input = inputFromRegistration({
    name: 'TV app',
    redirectUris: [],
    isPublic: true,
    extraGrants: [DEVICE_CODE_GRANT],
  });
  expect(clientMetadata(input)).toMatchObject({
    grant_types: ['refresh_token', DEVICE_CODE_GRANT],
    response_types: [],
    token_endpoint_auth_method: 'none',
  });
  expect(() => inputFromRegistration({ name: 'x', redirectUris: [], extraGrants: ['password'] })).toThrow(
    /unsupported grant/,
  );
});
