/**
 * The benchmark's load generator, in a process of its own so that the clients (autocannon, the
 * refresh chains, the cookie-jar browsers) do not share a target's event loop. It runs one
 * phase at a time for the orchestrator (run.ts) and answers with the measured figures.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type {
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import {
  formAction,
  hiddenInputs,
  HttpClient,
  loginThroughPages,
  nodeExchange,
  submitForm,
  unescapeHtml,
  type PageResponse,
} from '../test/helpers/http-client.js';
import { SoftwareAuthenticator } from '../test/helpers/software-authenticator.js';
import { serveRequests } from './ipc.js';
import { LoopbackCookies } from './loopback-cookies.js';
import { SteadyRate } from './steady-rate.js';
import type {
  Command,
  HttpPhase,
  LoginMethod,
  LoginPhase,
  LoginUser,
  PhaseResult,
  RefreshPhase,
  SeedRequest,
  SeedResult,
} from './protocol.js';

const MAX_REASONS = 20;

function countReason(failures: Record<string, number>, reason: string): void {
  const key = reason in failures || Object.keys(failures).length < MAX_REASONS ? reason : '(other reasons)';
  failures[key] = (failures[key] ?? 0) + 1;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause ? `${err.message} (${cause.code ?? cause.message ?? 'unknown cause'})` : err.message;
}

/** Percentile of sorted values, nearest-rank. */
function percentile(sorted: number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

// ---------------------------------------------------------------- fixed requests, autocannon

function runHttpPhase(phase: HttpPhase): Promise<PhaseResult> {
  const failures: Record<string, number> = {};
  const mustContain = phase.bodyMustContain;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: phase.url,
        method: phase.method,
        connections: phase.connections,
        duration: phase.seconds,
        ...(phase.headers ? { headers: phase.headers } : {}),
        ...(phase.body !== undefined ? { body: phase.body } : {}),
        ...(mustContain
          ? {
              verifyBody: (body: string | Buffer | undefined) => {
                const ok = String(body ?? '').includes(mustContain);
                if (!ok)
                  countReason(
                    failures,
                    `body without ${JSON.stringify(mustContain)}: ${String(body ?? '').slice(0, 160)}`,
                  );
                return ok;
              },
            }
          : {}),
      },
      (err: unknown, result: autocannon.Result) => {
        if (err) {
          reject(err instanceof Error ? err : new Error(describe(err)));
          return;
        }
        resolve({
          rate: result.requests.total / result.duration,
          completed: result.requests.total,
          seconds: result.duration,
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          errors: result.errors + result.mismatches + result.non2xx,
          failures,
        });
      },
    );
    instance.on('reqError', (err: unknown) => countReason(failures, `request error: ${describe(err)}`));
    instance.on('response', (_client, statusCode) => {
      if (statusCode < 200 || statusCode >= 300) countReason(failures, `HTTP ${statusCode}`);
    });
  });
}

// ---------------------------------------------------------------- refresh chains

function post(
  agent: Agent,
  url: URL,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      agent,
      headers: { ...headers, 'content-length': Buffer.byteLength(body) },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.end(body);
  });
}

/** One keep-alive connection per chain; a chain stops only after its answer is in, so no token is lost. */
async function runRefreshPhase(phase: RefreshPhase): Promise<PhaseResult> {
  const failures: Record<string, number> = {};
  const agent = new Agent({ keepAlive: true, maxSockets: phase.chains.length });
  const url = new URL(`${phase.issuer}/token`);
  const headers = {
    authorization: basicAuth(phase.clientId, phase.clientSecret),
    'content-type': 'application/x-www-form-urlencoded',
  };
  const chains = [...phase.chains];
  const durations: number[] = [];
  let errors = 0;
  const start = performance.now();
  const deadline = start + phase.seconds * 1000;
  await Promise.all(
    chains.map(async (_, i) => {
      while (performance.now() < deadline && chains[i]) {
        const began = performance.now();
        try {
          const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: chains[i] }).toString();
          const res = await post(agent, url, headers, body);
          const answer =
            res.status === 200 ? (JSON.parse(res.text) as { refresh_token?: string; id_token?: string }) : {};
          if (!answer.refresh_token || !answer.id_token) {
            throw new Error(`HTTP ${res.status} ${res.text.slice(0, 120)}`);
          }
          chains[i] = answer.refresh_token;
          durations.push(performance.now() - began);
        } catch (err) {
          errors += 1;
          countReason(failures, describe(err));
          chains[i] = ''; // refused or lost: this chain is over
        }
      }
    }),
  );
  agent.destroy();
  const sorted = durations.sort((a, b) => a - b);
  const seconds = (performance.now() - start) / 1000;
  return {
    rate: durations.length / seconds,
    completed: durations.length,
    seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    errors,
    failures,
    chains: chains.filter(Boolean),
  };
}

// ---------------------------------------------------------------- complete logins, cookie-jar browsers

class LoginFailure extends Error {}

/** A path with the interaction uid blanked, so failures at the same step count together. */
function step(url: string): string {
  return new URL(url).pathname.replace(/\/interaction\/[^/]+/, '/interaction/:uid');
}

function decodeJwtPayload(jwt: string): Record<string, unknown> {
  const part = jwt.split('.')[1];
  if (!part) throw new LoginFailure('id_token is not a JWT');
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

interface Tokens {
  access_token: string;
  id_token: string;
  refresh_token?: string;
}

type LoginTarget = Omit<LoginPhase, 'kind' | 'method' | 'users' | 'workers' | 'seconds'>;

/**
 * The login phases' browsers and RP speak node:http over keep-alive connections. With fetch
 * (undici) and its web streams, the load generator, which shares the cores with the target,
 * spent 4 to 6 ms of CPU per login, about half of what Monban spends besides its bcrypt. The
 * browsers keep their cookies in a loopback jar, not in tough-cookie's (loopback-cookies.ts).
 */
const browserAgent = new Agent({ keepAlive: true });

class LoadBrowser extends HttpClient {
  readonly #cookies = new LoopbackCookies();

  protected override cookieHeader(url: string): string {
    return this.#cookies.header(url);
  }

  protected override storeCookies(setCookies: readonly string[], url: string): void {
    this.#cookies.store(setCookies, url);
  }

  protected override send(url: string, method: string, headers: Record<string, string>, body: string | undefined) {
    return nodeExchange(url, method, headers, body, { agent: browserAgent });
  }
}

/** An RP's authorization request (PKCE, state, nonce), as a fresh browser starts a login. */
function authorizationRequest(target: LoginTarget, extra: Record<string, string> = {}) {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const nonce = randomBytes(12).toString('base64url');
  const url = new URL(`${target.issuer}/auth`);
  url.search = new URLSearchParams({
    client_id: target.clientId,
    response_type: 'code',
    redirect_uri: target.redirectUri,
    scope: 'openid email profile',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  }).toString();
  return { url: url.toString(), verifier, state, nonce };
}

/** The RP's side of the end of a login: the callback's code exchanged at /token, and the checks. */
async function redeem(
  target: LoginTarget,
  last: PageResponse,
  request: ReturnType<typeof authorizationRequest>,
): Promise<Tokens> {
  if (!last.location?.startsWith(`${target.redirectUri}?`)) {
    throw new LoginFailure(`login stopped at ${step(last.url)} with HTTP ${last.status}`);
  }
  const callback = new URL(last.location);
  const code = callback.searchParams.get('code');
  if (!code) throw new LoginFailure(`callback without a code: error=${callback.searchParams.get('error') ?? '?'}`);
  if (callback.searchParams.get('state') !== request.state) throw new LoginFailure('callback with the wrong state');

  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: target.redirectUri,
    code_verifier: request.verifier,
  }).toString();
  const headers = {
    authorization: basicAuth(target.clientId, target.clientSecret),
    'content-type': 'application/x-www-form-urlencoded',
  };
  const { status, text } = await post(browserAgent, new URL(`${target.issuer}/token`), headers, body);
  if (status !== 200) throw new LoginFailure(`code exchange: HTTP ${status} ${text.slice(0, 160)}`);
  const tokens = JSON.parse(text) as Partial<Tokens>;
  if (!tokens.access_token || !tokens.id_token)
    throw new LoginFailure('code exchange answered without access_token and id_token');
  if (decodeJwtPayload(tokens.id_token).nonce !== request.nonce)
    throw new LoginFailure('id_token with the wrong nonce');
  return tokens as Tokens;
}

/**
 * One fresh browser logging in with a password: authorization request with PKCE, email,
 * password, consent (only the first time: Monban remembers it per account and app), then the
 * RP's code exchange.
 */
async function passwordLogin(
  target: LoginTarget,
  user: LoginUser,
  extra: Record<string, string> = {},
): Promise<Tokens> {
  const request = authorizationRequest(target, extra);
  const browser = new LoadBrowser({ 'accept-language': 'en' });
  return redeem(target, await loginThroughPages(browser, request.url, target.redirectUri, user), request);
}

/** A login at the bare provider: its interaction logs in the login_hint and grants the scopes at once. */
async function bareLogin(target: LoginTarget, user: LoginUser): Promise<Tokens> {
  const request = authorizationRequest(target, { login_hint: user.email });
  return redeem(target, await new LoadBrowser().follow(request.url, target.redirectUri), request);
}

/**
 * Each benchmark user's passkey, held by this process's software authenticator. It is a synced
 * passkey (a password manager's, as most passkeys are), which keeps no signature counter (0,
 * WebAuthn L3 6.1.1): the benchmark's browsers outnumber its users, so one passkey signs for two
 * browsers at once. A device-bound counter would go 5, 6 and could arrive 6, 5, which Monban
 * rightly refuses as a cloned key (PASSKEY_COUNTER), failing a login now and then.
 */
const passkeys = new Map<string, SoftwareAuthenticator>();

/**
 * Enrols a passkey for each user that has none here, as its owner would: a password login to
 * the console, the password again on the Security page, then the authenticator's answer.
 */
async function enrolPasskeys(target: LoginTarget, users: LoginUser[]): Promise<void> {
  for (const user of users) {
    if (passkeys.has(user.email)) continue;
    const browser = new LoadBrowser({ 'accept-language': 'en' });
    const callback = `${target.issuer}/account/callback`;
    const signedIn = await loginThroughPages(browser, `${target.issuer}/account`, callback, user);
    if (!signedIn.location?.startsWith(callback))
      throw new LoginFailure(`console login stopped at ${step(signedIn.url)}`);
    await browser.follow(signedIn.location);
    const security = await browser.request(`${target.issuer}/account/security`);
    const started = await submitForm(browser, security, '/passkeys/start', { current_password: user.password });
    const page = await browser.follow(started.location ?? security.url);
    const options = page.body.match(/<script type="application\/json" id="passkey-options">([\s\S]*?)<\/script>/)?.[1];
    if (!options) throw new LoginFailure(`no passkey options at ${step(page.url)} (HTTP ${page.status})`);
    const authenticator = new SoftwareAuthenticator(target.issuer, undefined, true);
    const added = await submitForm(browser, page, '/account/security/passkeys', {
      name: 'bench',
      response: JSON.stringify(authenticator.create(JSON.parse(options) as PublicKeyCredentialCreationOptionsJSON)),
    });
    if (!added.location?.includes('done=passkey-added'))
      throw new LoginFailure(`passkey not added (HTTP ${added.status})`);
    passkeys.set(user.email, authenticator);
  }
}

/**
 * One fresh browser logging in with a passkey alone (issue 17): authorization request, the email
 * step's request for a challenge, the authenticator's signed answer, consent if not yet given,
 * code exchange. No bcrypt: an ECDSA P-256 signature check instead.
 */
async function passkeyLogin(target: LoginTarget, user: LoginUser): Promise<Tokens> {
  const authenticator = passkeys.get(user.email);
  if (!authenticator) throw new LoginFailure(`no passkey enrolled for ${user.email}`);
  const request = authorizationRequest(target);
  const browser = new LoadBrowser({ 'accept-language': 'en' });
  const page = await browser.follow(request.url, target.redirectUri);
  const optionsUrl = page.body.match(/data-options-url="([^"]+)"/)?.[1];
  if (!optionsUrl) throw new LoginFailure(`no passkey form at ${step(page.url)} (HTTP ${page.status})`);
  const challenge = await browser.request(new URL(unescapeHtml(optionsUrl), page.url).toString(), {
    form: { _csrf: hiddenInputs(page.body, '/passkey')._csrf ?? '' },
  });
  if (challenge.status !== 200) throw new LoginFailure(`passkey options: HTTP ${challenge.status}`);
  const options = JSON.parse(challenge.body) as PublicKeyCredentialRequestOptionsJSON;
  const answered = await submitForm(browser, page, '/passkey', {
    response: JSON.stringify(authenticator.get(options, { counter: 0 })),
  });
  let last = answered.location ? await browser.follow(answered.location, target.redirectUri) : answered;
  if (!last.location && formAction(last.body, '/confirm')) {
    const consented = await submitForm(browser, last, '/confirm', {});
    last = consented.location?.startsWith(target.redirectUri)
      ? consented
      : await browser.follow(consented.location ?? last.url, target.redirectUri);
  }
  return redeem(target, last, request);
}

/** Each way of logging in the benchmark knows, and what it needs done once before it is timed. */
const LOGINS: Record<
  LoginMethod,
  {
    login: (target: LoginTarget, user: LoginUser) => Promise<unknown>;
    prepare?: (target: LoginTarget, users: LoginUser[]) => Promise<void>;
  }
> = {
  password: { login: passwordLogin },
  passkey: { login: passkeyLogin, prepare: enrolPasskeys },
  bare: { login: bareLogin },
};

async function runLoginPhase(phase: LoginPhase): Promise<PhaseResult> {
  const failures: Record<string, number> = {};
  const { login, prepare } = LOGINS[phase.method];
  await prepare?.(phase, phase.users);
  const start = performance.now();
  const deadline = start + phase.seconds * 1000;
  const steady = new SteadyRate(phase.workers, deadline);
  const durations: number[] = [];
  let errors = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: phase.workers }, async (_, browser) => {
      while (performance.now() < deadline) {
        const user = phase.users[next++ % phase.users.length]!;
        const began = performance.now();
        try {
          await login(phase, user);
          durations.push(performance.now() - began);
        } catch (err) {
          errors += 1;
          countReason(failures, describe(err));
          await new Promise((resolve) => setTimeout(resolve, 20)); // no hot loop when the server is down
        }
        steady.ended(browser);
      }
    }),
  );
  // Logins started before the deadline finish: CPU per login divides by all of them.
  const seconds = (performance.now() - start) / 1000;
  const sorted = durations.sort((a, b) => a - b);
  return {
    rate: steady.rate(durations.length / seconds),
    completed: durations.length,
    seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    errors,
    failures,
  };
}

async function seed(request: SeedRequest): Promise<SeedResult> {
  const result: SeedResult = { accessTokens: [], refreshTokens: [] };
  for (let i = 0; i < request.count; i += 1) {
    const tokens = await passwordLogin(request, request.users[i % request.users.length]!, {
      scope: 'openid email profile offline_access',
      prompt: 'consent',
    });
    if (!tokens.refresh_token) throw new Error('a login with offline_access gave no refresh token');
    result.accessTokens.push(tokens.access_token);
    result.refreshTokens.push(tokens.refresh_token);
  }
  return result;
}

serveRequests(async (raw) => {
  const command = raw as unknown as Command;
  switch (command.kind) {
    case 'http':
      return runHttpPhase(command);
    case 'refresh':
      return runRefreshPhase(command);
    case 'logins':
      return runLoginPhase(command);
    case 'seed':
      return seed(command);
  }
});
