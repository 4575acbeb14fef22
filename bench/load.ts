/**
 * The benchmark's load generator. bench/run.ts forks it as a separate process so that the
 * clients (autocannon, the cookie-jar browsers) do not share the app's event loop; it takes
 * one phase at a time over IPC and answers with the measured figures.
 */
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { HttpClient, loginThroughPages } from '../test/helpers/http-client.js';
import type { Command, HttpPhase, LoginPhase, PhaseResult, Reply } from './protocol.js';

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

// ---------------------------------------------------------------- fixed requests, autocannon

interface CannonRun { result: autocannon.Result; failures: Record<string, number> }

function cannon(phase: HttpPhase, seconds: number, failures: Record<string, number>): Promise<CannonRun> {
  const mustContain = phase.bodyMustContain;
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url: phase.url,
      method: phase.method,
      connections: phase.connections,
      duration: seconds,
      ...(phase.headers ? { headers: phase.headers } : {}),
      ...(phase.body !== undefined ? { body: phase.body } : {}),
      ...(mustContain ? {
        verifyBody: (body: string | Buffer | undefined) => {
          const ok = String(body ?? '').includes(mustContain);
          if (!ok) countReason(failures, `body without ${JSON.stringify(mustContain)}: ${String(body ?? '').slice(0, 160)}`);
          return ok;
        },
      } : {}),
    }, (err: unknown, result: autocannon.Result) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve({ result, failures })));
    instance.on('reqError', (err: unknown) => countReason(failures, `request error: ${describe(err)}`));
    instance.on('response', (_client, statusCode) => {
      if (statusCode < 200 || statusCode >= 300) countReason(failures, `HTTP ${statusCode}`);
    });
  });
}

async function runHttpPhase(phase: HttpPhase): Promise<PhaseResult> {
  const failures: Record<string, number> = {};
  let warmErrors = 0;
  let warmNon2xx = 0;
  if (phase.warmupSeconds > 0) {
    const { result } = await cannon(phase, phase.warmupSeconds, failures);
    warmErrors = result.errors + result.mismatches;
    warmNon2xx = result.non2xx;
  }
  const { result } = await cannon(phase, phase.seconds, failures);
  return {
    name: phase.name,
    unit: 'req/s',
    rate: result.requests.total / result.duration,
    completed: result.requests.total,
    seconds: result.duration,
    concurrency: phase.connections,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: warmErrors + result.errors + result.mismatches,
    non2xx: warmNon2xx + result.non2xx,
    failures,
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

/** One fresh browser: authorization request with PKCE, email, password, consent, then the RP's code exchange. */
async function oneLogin(phase: LoginPhase, user: { email: string; password: string }): Promise<void> {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const nonce = randomBytes(12).toString('base64url');
  const authorization = new URL(`${phase.issuer}/auth`);
  authorization.search = new URLSearchParams({
    client_id: phase.clientId,
    response_type: 'code',
    redirect_uri: phase.redirectUri,
    scope: 'openid email profile',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
    nonce,
  }).toString();

  const browser = new HttpClient({ 'accept-language': 'en' });
  const last = await loginThroughPages(browser, authorization.toString(), phase.redirectUri, user);
  if (!last.location?.startsWith(`${phase.redirectUri}?`)) {
    throw new LoginFailure(`login stopped at ${step(last.url)} with HTTP ${last.status}`);
  }
  const callback = new URL(last.location);
  const code = callback.searchParams.get('code');
  if (!code) throw new LoginFailure(`callback without a code: error=${callback.searchParams.get('error') ?? '?'}`);
  if (callback.searchParams.get('state') !== state) throw new LoginFailure('callback with the wrong state');

  const res = await fetch(`${phase.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(phase.clientId)}:${encodeURIComponent(phase.clientSecret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: phase.redirectUri, code_verifier: verifier }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new LoginFailure(`code exchange: HTTP ${res.status} ${text.slice(0, 160)}`);
  const tokens = JSON.parse(text) as { access_token?: string; id_token?: string };
  if (!tokens.access_token || !tokens.id_token) throw new LoginFailure('code exchange answered without access_token and id_token');
  if (decodeJwtPayload(tokens.id_token).nonce !== nonce) throw new LoginFailure('id_token with the wrong nonce');
}

interface LoopOutcome { durations: number[]; errors: number; elapsedSeconds: number }

async function loginLoop(phase: LoginPhase, seconds: number, failures: Record<string, number>): Promise<LoopOutcome> {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const durations: number[] = [];
  let errors = 0;
  let next = 0;
  await Promise.all(Array.from({ length: phase.workers }, async () => {
    while (performance.now() < deadline) {
      const user = phase.users[next++ % phase.users.length]!;
      const began = performance.now();
      try {
        await oneLogin(phase, user);
        durations.push(performance.now() - began);
      } catch (err) {
        errors += 1;
        countReason(failures, describe(err));
        await new Promise((resolve) => setTimeout(resolve, 20)); // no hot loop when the server is down
      }
    }
  }));
  // Logins started before the deadline are allowed to finish; the window includes that drain.
  return { durations, errors, elapsedSeconds: (performance.now() - start) / 1000 };
}

async function runLoginPhase(phase: LoginPhase): Promise<PhaseResult> {
  const failures: Record<string, number> = {};
  const warm = phase.warmupSeconds > 0 ? await loginLoop(phase, phase.warmupSeconds, failures) : undefined;
  const run = await loginLoop(phase, phase.seconds, failures);
  const sorted = [...run.durations].sort((a, b) => a - b);
  return {
    name: phase.name,
    unit: 'logins/s',
    rate: run.durations.length / run.elapsedSeconds,
    completed: run.durations.length,
    seconds: run.elapsedSeconds,
    concurrency: phase.workers,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    errors: (warm?.errors ?? 0) + run.errors,
    non2xx: undefined,
    failures,
  };
}

// ---------------------------------------------------------------- IPC

function reply(message: Reply): void {
  process.send?.(message);
}

process.on('message', (raw) => {
  const command = raw as Command;
  if (command.kind === 'exit') {
    process.disconnect();
    process.exit(0);
  }
  const work = command.kind === 'http' ? runHttpPhase(command) : runLoginPhase(command);
  work.then(
    (result) => reply({ id: command.id, result }),
    (err: unknown) => reply({ id: command.id, error: describe(err) }),
  );
});

// The orchestrator went away (crash, kill): do not linger.
process.on('disconnect', () => process.exit(0));
// Ctrl-C reaches the whole process group; the orchestrator stops this process itself, in order.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
