/**
 * Second factors from a test's side: an authenticator app (the independent otpauth package)
 * reading the secret off Monban's setup page, the console forms that turn MFA on, the login's
 * second step, the RP redeeming what it got, and a user pressing buttons on Duo's prompt.
 */
import { request as httpsRequest } from 'node:https';
import * as OTPAuth from 'otpauth';
import type { DuoDecision, FakeDuo } from './fake-duo.js';
import { authorizationUrl, exchangeCode, registerClient, RP_CALLBACK, TEST_PASSWORD } from './fixtures.js';
import {
  formAction,
  HttpClient,
  loginThroughPages,
  submitForm,
  unescapeHtml,
  type PageResponse,
} from './http-client.js';
import { ENGLISH, landed, open, signedInUser, type AccountHarness } from './account.js';

/** The code an authenticator app shows, `steps` time steps from now (+1: the next 30 s). */
export function totpCode(base32: string, steps = 0, now = Date.now()): string {
  const totp = new OTPAuth.TOTP({
    secret: OTPAuth.Secret.fromBase32(base32),
    digits: 6,
    period: 30,
    algorithm: 'SHA1',
  });
  return totp.generate({ timestamp: now + steps * 30_000 });
}

/** The key shown under the QR code, without the spaces between its groups. */
export function secretOnPage(page: PageResponse): string {
  const text = page.body.match(/<code id="totp-secret">([^<]*)<\/code>/)?.[1];
  if (!text) throw new Error(`no TOTP secret on ${page.url}`);
  return unescapeHtml(text).replace(/\s+/g, '');
}

/** The recovery codes listed on a page. */
export function recoveryCodesOnPage(page: PageResponse): string[] {
  const list = page.body.match(/<ol class="recovery-codes" id="recovery-codes">([\s\S]*?)<\/ol>/)?.[1] ?? '';
  return [...list.matchAll(/<code>([^<]+)<\/code>/g)].map((m) => m[1]!);
}

/**
 * Turns the authenticator app on from the security page of a signed-in browser: method and
 * password, then the code of the current step. Returns the secret and the recovery codes shown.
 */
export async function enableTotp(
  browser: HttpClient,
  issuer: string,
  password = TEST_PASSWORD,
): Promise<{ secret: string; recoveryCodes: string[] }> {
  const choice = await open(browser, issuer, '/account/security/mfa');
  const setup = await landed(
    browser,
    await submitForm(browser, choice, '/account/security/mfa', { method: 'totp', current_password: password }),
  );
  const secret = secretOnPage(setup);
  // The codes page is a page of its own (a reload or a switch of language shows it again).
  const done = await browser.follow(
    (await submitForm(browser, setup, '/account/security/mfa/totp', { code: totpCode(secret) })).location ?? setup.url,
  );
  if (done.status !== 200) throw new Error(`turning TOTP on answered ${done.status}`);
  return { secret, recoveryCodes: recoveryCodesOnPage(done) };
}

// --- the login's second step, an RP's view of it, and Duo's prompt ------------------------------

/** A six-digit code the authenticator app shows neither now nor one or two steps either side. */
export function wrongTotpCode(base32: string, now = Date.now()): string {
  const near = new Set([-2, -1, 0, 1, 2].map((steps) => totpCode(base32, steps, now)));
  for (let n = 0; ; n += 1) {
    const code = String((314159 + n * 7919) % 1_000_000).padStart(6, '0');
    if (!near.has(code)) return code;
  }
}

/** The payload of a JWT (an ID token the RP just got from the token endpoint). */
export function jwtClaims(jwt: string): Record<string, unknown> {
  const payload = jwt.split('.')[1];
  if (!payload) throw new Error('not a JWT');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Whether this answer sends the browser to the RP's callback with an authorization code. */
export function givesRpACode(res: PageResponse, callback = RP_CALLBACK): boolean {
  return !!res.location?.startsWith(callback) && new URL(res.location).searchParams.has('code');
}

/**
 * From the redirect that ends a login step (303 to the authorization endpoint) to the RP's
 * callback, pressing "Allow" on the consent page if it shows. Returns the redirect to the
 * callback, or the page that stopped the way there.
 */
export async function followToRp(
  browser: HttpClient,
  answer: PageResponse,
  callback = RP_CALLBACK,
): Promise<PageResponse> {
  if (!answer.location || answer.location.startsWith(callback)) return answer;
  let page = await browser.follow(answer.location, callback);
  if (!page.location?.startsWith(callback) && formAction(page.body, '/confirm')) {
    const consented = await submitForm(browser, page, '/confirm', {});
    page =
      !consented.location || consented.location.startsWith(callback)
        ? consented
        : await browser.follow(consented.location, callback);
  }
  return page;
}

/** Redeems the code of a redirect to the RP's callback, as the RP does: the ID token's claims. */
export async function redeemAtRp(
  issuer: string,
  client: { client_id: string; client_secret?: string },
  toRp: PageResponse,
  verifier: string,
): Promise<Record<string, unknown>> {
  if (!givesRpACode(toRp))
    throw new Error(
      `no code for the RP: ${toRp.url} answered ${toRp.status}${toRp.location ? ` -> ${toRp.location}` : ''}`,
    );
  const res = await exchangeCode(issuer, client, new URL(toRp.location!).searchParams.get('code')!, verifier);
  if (res.status !== 200) throw new Error(`code exchange answered ${res.status}: ${await res.text()}`);
  return jwtClaims(((await res.json()) as { id_token: string }).id_token);
}

/** The recovery-code form of a second-factor page: the page itself if it shows it, else its "Use a recovery code" link. */
export async function recoveryForm(browser: HttpClient, page: PageResponse): Promise<PageResponse> {
  if (formAction(page.body, '/mfa/recovery')) return page;
  const href = page.body.match(/<a href="([^"]+)" id="use-recovery-code"/)?.[1];
  if (!href) throw new Error(`no recovery-code link on ${page.url}`);
  return browser.request(new URL(unescapeHtml(href), page.url).toString());
}

export type SecondStep = { code: string; remember?: boolean } | { recoveryCode: string };

/** Passes the second-factor page with an authenticator code or a recovery code; the answer (not followed). */
export async function passSecondStep(browser: HttpClient, page: PageResponse, step: SecondStep): Promise<PageResponse> {
  if ('code' in step)
    return submitForm(browser, page, '/mfa/totp', { code: step.code, ...(step.remember ? { remember: '1' } : {}) });
  return submitForm(browser, await recoveryForm(browser, page), '/mfa/recovery', { recovery_code: step.recoveryCode });
}

/** Logs the browser into /account through the login pages and the second step; returns the hub page. */
export async function signInToAccountWithMfa(
  browser: HttpClient,
  issuer: string,
  email: string,
  step: SecondStep,
  password = TEST_PASSWORD,
): Promise<PageResponse> {
  const callback = `${issuer}/account/callback`;
  const page = await loginThroughPages(browser, `${issuer}/account`, callback, { email, password });
  if (!formAction(page.body, '/mfa/'))
    throw new Error(`the login to /account did not ask for the second step (${page.url}, ${page.status})`);
  const passed = await passSecondStep(browser, page, step);
  if (passed.status !== 303 || !passed.location) throw new Error(`the second step answered ${passed.status}`);
  const back = await browser.follow(passed.location, callback);
  if (!back.location?.startsWith(callback))
    throw new Error(`after the second step: ${back.url} answered ${back.status}`);
  const hub = await browser.follow(back.location);
  if (hub.status !== 200 || hub.url !== `${issuer}/account`)
    throw new Error(`after the login: ${hub.url} answered ${hub.status}`);
  return hub;
}

/** One HTTPS request to the fake Duo, trusting its certificate (as a browser that trusts Duo would). */
function duoRequest(
  duo: FakeDuo,
  url: string,
  form?: Record<string, string>,
): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const body = form ? new URLSearchParams(form).toString() : undefined;
    const req = httpsRequest(
      url,
      {
        method: form ? 'POST' : 'GET',
        ca: duo.certificate,
        headers: body
          ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) }
          : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            ...(res.headers.location ? { location: new URL(res.headers.location, url).toString() } : {}),
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * What the user does on Duo's prompt: the browser opens the authorize URL Monban sent it to, the
 * user presses Approve or Deny. Returns the user the prompt named and the URL Duo sends the
 * browser back to.
 */
export async function pressOnDuoPrompt(
  duo: FakeDuo,
  authUrl: string,
  decision: DuoDecision,
): Promise<{ user: string | undefined; back: string }> {
  const prompt = await duoRequest(duo, authUrl);
  if (prompt.status !== 200) throw new Error(`Duo's prompt answered ${prompt.status}: ${prompt.body}`);
  const txid = prompt.body.match(/name="txid" value="([^"]+)"/)?.[1];
  if (!txid) throw new Error('no transaction on the Duo prompt');
  const user = prompt.body.match(/<p id="duo-user">([^<]*)<\/p>/)?.[1];
  const answer = await duoRequest(duo, new URL('/oauth/v1/decide', authUrl).toString(), { txid, decision });
  if (answer.status !== 302 || !answer.location) throw new Error(`Duo's decision answered ${answer.status}`);
  return {
    user:
      user === undefined
        ? undefined
        : unescapeHtml(user.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)))),
    back: answer.location,
  };
}

type Client = Awaited<ReturnType<typeof registerClient>>;
interface Harness {
  app: AccountHarness['app'];
  issuer: string;
}

/** A new account with the authenticator app on: its secret (the current step is used), recovery codes and console browser. */
export async function userWithTotp(h: Harness) {
  const { user, browser } = await signedInUser(h);
  const { secret, recoveryCodes } = await enableTotp(browser, h.issuer);
  return { user, secret, recoveryCodes, console: browser };
}

/** An RP's login through email and password (in a new browser unless one is given): the page it stops on. */
export async function rpLogin(
  h: Harness,
  client: Client,
  email: string,
  options: { params?: Record<string, string>; browser?: HttpClient; password?: string } = {},
) {
  const browser = options.browser ?? new HttpClient(ENGLISH);
  const auth = authorizationUrl(h.issuer, client.client_id, options.params ?? {});
  const page = await loginThroughPages(browser, auth.url, RP_CALLBACK, {
    email,
    password: options.password ?? TEST_PASSWORD,
  });
  return { browser, auth, page };
}

/** The login's second-step page (code, Duo or recovery code). */
export const isSecondStep = (page: PageResponse) =>
  /\/interaction\/[^/]+\/mfa$/.test(page.url) && formAction(page.body, '/mfa/') !== undefined;
