/**
 * `npm run bench`: throughput of the production app on this machine, on loopback only.
 *
 * The app (createApp, production configuration: bcrypt cost from config/default.json) runs in
 * this process against a scratch PostgreSQL database and its own Redis key prefix; the load
 * comes from a forked process (bench/load.ts) so the clients do not share the app's event loop.
 * Phases: discovery, client_credentials tokens, introspection (autocannon), and complete
 * password logins through the hosted pages ending with a PKCE code exchange (cookie-jar
 * browsers). Exits non-zero when any phase saw an error.
 *
 * Knobs (environment): BENCH_SECONDS (5), BENCH_WARMUP_SECONDS (1), BENCH_CONNECTIONS (16),
 * BENCH_LOGIN_WORKERS (8), BENCH_USERS (4).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcrypt';
import { createClient } from '../src/admin/clients.js';
import { createApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { createAccount } from '../src/identity/accounts/service.js';
import { freePort } from '../test/helpers/app.js';
import { createScratchDatabase } from '../test/helpers/databases.js';
import { TEST_REDIS_URL } from '../test/helpers/env.js';
import type { Command, PhaseCommand, PhaseResult, Reply } from './protocol.js';

// ---------------------------------------------------------------- settings

function numberFromEnv(name: string, fallback: number, { integer = false, min = 0 } = {}): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new Error(`${name} must be ${integer ? 'a whole number' : 'a number'} >= ${min}, got "${raw}"`);
  }
  return value;
}

const SECONDS = numberFromEnv('BENCH_SECONDS', 5, { min: 1 });
const WARMUP_SECONDS = numberFromEnv('BENCH_WARMUP_SECONDS', 1);
const CONNECTIONS = numberFromEnv('BENCH_CONNECTIONS', 16, { integer: true, min: 1 });
const LOGIN_WORKERS = numberFromEnv('BENCH_LOGIN_WORKERS', 8, { integer: true, min: 1 });
const USER_COUNT = numberFromEnv('BENCH_USERS', 4, { integer: true, min: 1 });
/** Generous bound for each phase's answer from the load process (warm-up, run, drain of slow logins). */
const PHASE_TIMEOUT_MS = (WARMUP_SECONDS + SECONDS) * 1000 + 60_000;
const TEARDOWN_TIMEOUT_MS = 20_000;

/** Login throttling would stop the benchmark after a few hundred logins from 127.0.0.1. */
const RAISED_LIMIT = { points: 1_000_000_000, durationSeconds: 60 };
const RATE_LIMITS = { loginPerAccountAndIp: RAISED_LIMIT, loginPerAccount: RAISED_LIMIT, loginPerIp: RAISED_LIMIT };

const PASSWORD = 'Sakura-Tide-Ocean-2026!';

// ---------------------------------------------------------------- helpers

function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function describeLimits(limits: Config['rateLimits']): string {
  const one = (l: { points: number; durationSeconds: number }) => `${l.points}/${l.durationSeconds}s`;
  return `per account+IP ${one(limits.loginPerAccountAndIp)}, per account ${one(limits.loginPerAccount)}, per IP ${one(limits.loginPerIp)}`;
}

/** Removes every Redis key under the benchmark's prefix (tokens, sessions, limiter counters). */
async function deleteRedisKeys(app: App, prefix: string): Promise<number> {
  const redis = app.redis;
  if (!redis) return 0;
  let deleted = 0;
  let cursor = '0';
  do {
    const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = nextCursor;
    if (keys.length) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

// ---------------------------------------------------------------- the load process

class LoadProcess {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve(r: PhaseResult): void; reject(e: Error): void }>();
  #nextId = 1;

  constructor() {
    const script = fileURLToPath(new URL('./load.ts', import.meta.url));
    // process.execArgv carries tsx's loader flags, so the child runs TypeScript like this process.
    this.#child = fork(script, [], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#child.on('message', (raw) => {
      const message = raw as Reply;
      const waiter = this.#pending.get(message.id);
      if (!waiter) return;
      this.#pending.delete(message.id);
      if ('error' in message) waiter.reject(new Error(message.error));
      else waiter.resolve(message.result);
    });
    // A send to a child that has gone away is reported by send's callback; do not crash on it.
    this.#child.on('error', () => undefined);
    this.#child.on('exit', (code, signal) => {
      for (const waiter of this.#pending.values()) waiter.reject(new Error(`load process exited (${signal ?? code})`));
      this.#pending.clear();
    });
  }

  run(command: PhaseCommand): Promise<PhaseResult> {
    const id = this.#nextId++;
    return withTimeout(new Promise<PhaseResult>((resolve, reject) => {
      if (!this.#child.connected) {
        reject(new Error('the load process is gone'));
        return;
      }
      this.#pending.set(id, { resolve, reject });
      this.#child.send({ ...command, id } as Command, (err) => {
        if (!err) return;
        this.#pending.delete(id);
        reject(err);
      });
    }), PHASE_TIMEOUT_MS, `phase "${command.name}"`);
  }

  /** Asks the load process to leave, and kills it if it does not within a few seconds. */
  async close(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (child.connected) child.send({ kind: 'exit' } satisfies Command, (err) => { if (err) child.kill(); });
    else child.kill();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- report

function formatNumber(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, col) => (col === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join('\n');
}

function report(results: PhaseResult[], context: string[]): string {
  const rows = [
    ['Phase', 'Throughput', 'p50 ms', 'p99 ms', 'Completed', 'Window s', 'Concurrency', 'Errors', 'Non-2xx'],
    ...results.map((r) => [
      r.name,
      `${formatNumber(r.rate, 1)} ${r.unit}`,
      formatNumber(r.p50Ms, 1),
      formatNumber(r.p99Ms, 1),
      String(r.completed),
      formatNumber(r.seconds, 1),
      String(r.concurrency),
      String(r.errors),
      r.non2xx === undefined ? '-' : String(r.non2xx),
    ]),
  ];
  const lines = ['', 'Monban benchmark', ...context.map((c) => `  ${c}`), '', table(rows)];
  const failing = results.filter((r) => r.errors > 0 || (r.non2xx ?? 0) > 0);
  for (const r of failing) {
    lines.push('', `Failures in "${r.name}":`);
    for (const [reason, count] of Object.entries(r.failures).sort((a, b) => b[1] - a[1])) lines.push(`  ${count} x ${reason}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const defaults = loadConfig({ env: {} });
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const redirectUri = 'http://127.0.0.1:8976/bench/callback';
  const redisKeyPrefix = `monban-bench:${randomBytes(6).toString('hex')}:`;
  const scratch = await createScratchDatabase();
  const scratchName = new URL(scratch.url).pathname.slice(1);
  const configure = () => loadConfig({
    env: { ...process.env, NODE_ENV: undefined },
    overrides: {
      port,
      issuer,
      databaseUrl: scratch.url,
      redisUrl: TEST_REDIS_URL,
      secret: randomBytes(32).toString('base64'),
      dataDir: 'memory://',
      redisKeyPrefix,
      logLevel: 'warn',
      rateLimits: RATE_LIMITS,
    },
  });

  let app: App | undefined;
  let load: LoadProcess | undefined;
  let tearingDown: Promise<void> | undefined;
  const teardown = () => (tearingDown ??= (async () => {
    // Whatever hangs here, the process still ends.
    setTimeout(() => {
      console.error(`bench: teardown took longer than ${TEARDOWN_TIMEOUT_MS} ms; exiting anyway`);
      process.exit(process.exitCode ?? 2);
    }, TEARDOWN_TIMEOUT_MS).unref();
    const steps: [string, () => Promise<unknown>][] = [
      ['stopping the load process', async () => load?.close()],
      ['deleting Redis keys', async () => app && deleteRedisKeys(app, redisKeyPrefix)],
      ['stopping the app', async () => app?.stop()],
      ['dropping the scratch database', () => scratch.drop()],
    ];
    for (const [what, step] of steps) {
      await step().catch((err: unknown) => console.error(`bench: ${what} failed:`, err));
    }
  })());
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = true;
    console.error(`bench: ${signal}, cleaning up`);
    process.exitCode = 130;
    void teardown().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const config = configure();
    app = await createApp(config);
    await app.listen(port);

    const client = await createClient(app, {
      name: 'Monban benchmark RP',
      redirectUris: [redirectUri],
      postLogoutRedirectUris: [],
      isPublic: false,
      extraGrants: ['client_credentials'],
    });
    const clientSecret = client.client_secret;
    if (!clientSecret) throw new Error('the benchmark client was created without a secret');
    const users = await Promise.all(Array.from({ length: USER_COUNT }, (_, i) => createAccount(app!.db, app!.hasher, app!.policy, {
      email: `bench-${i}-${randomBytes(3).toString('hex')}@example.com`,
      password: PASSWORD,
      givenName: 'Taro',
      familyName: 'Bench',
      locale: 'en',
      status: 'active',
      emailVerified: true,
    })));
    const storedCost = bcrypt.getRounds(users[0]!.password_hash!);

    // One token up front: the introspection phase needs a live one, and it proves the client works.
    const clientAuth = basicAuth(client.client_id, clientSecret);
    const form = { authorization: clientAuth, 'content-type': 'application/x-www-form-urlencoded' };
    const tokenRes = await fetch(`${issuer}/token`, { method: 'POST', headers: form, body: 'grant_type=client_credentials' });
    const tokenBody = await tokenRes.json() as { access_token?: string };
    if (tokenRes.status !== 200 || !tokenBody.access_token) {
      throw new Error(`client_credentials smoke test failed: HTTP ${tokenRes.status} ${JSON.stringify(tokenBody)}`);
    }
    const accessToken = tokenBody.access_token;

    load = new LoadProcess();
    const common = { seconds: SECONDS, warmupSeconds: WARMUP_SECONDS };
    const phases: PhaseCommand[] = [
      { kind: 'http', name: 'discovery (GET /.well-known/openid-configuration)', url: `${issuer}/.well-known/openid-configuration`, method: 'GET', bodyMustContain: '"issuer"', connections: CONNECTIONS, ...common },
      { kind: 'http', name: 'client_credentials (POST /token)', url: `${issuer}/token`, method: 'POST', headers: form, body: 'grant_type=client_credentials', bodyMustContain: '"access_token"', connections: CONNECTIONS, ...common },
      { kind: 'http', name: 'introspection (POST /token/introspection)', url: `${issuer}/token/introspection`, method: 'POST', headers: form, body: new URLSearchParams({ token: accessToken, token_type_hint: 'access_token' }).toString(), bodyMustContain: '"active":true', connections: CONNECTIONS, ...common },
      { kind: 'logins', name: 'password login + consent + code exchange', issuer, clientId: client.client_id, clientSecret, redirectUri, users: users.map((u) => ({ email: u.email, password: PASSWORD })), workers: LOGIN_WORKERS, ...common },
    ];

    const loadBefore = os.loadavg()[0]!;
    const results: PhaseResult[] = [];
    for (const phase of phases) {
      if (interrupted) break;
      console.error(`bench: ${phase.name} ...`);
      try {
        results.push(await load.run(phase));
      } catch (err) {
        results.push({
          name: phase.name, unit: phase.kind === 'http' ? 'req/s' : 'logins/s', rate: NaN, completed: 0, seconds: 0,
          concurrency: phase.kind === 'http' ? phase.connections : phase.workers,
          p50Ms: undefined, p99Ms: undefined, errors: 1, non2xx: undefined,
          failures: { [interrupted ? 'interrupted' : `phase failed: ${(err as Error).message}`]: 1 },
        });
      }
    }

    const cpus = os.cpus();
    const context = [
      `node ${process.version}, ${os.availableParallelism()} cores (${cpus[0]?.model.trim() ?? 'unknown CPU'}), ${os.platform()} ${os.arch()}`,
      `libuv threadpool (bcrypt runs there): ${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}`,
      `machine load average (1 min) before/after the phases: ${loadBefore.toFixed(2)} / ${os.loadavg()[0]!.toFixed(2)} (other work on the machine skews the figures)`,
      `bcrypt cost ${config.bcryptCost} (config/default.json: ${defaults.bcryptCost}; stored hashes: ${storedCost})`
        + (config.bcryptCost === defaults.bcryptCost ? '' : '  <-- NOT the production default (BCRYPT_COST set?)'),
      `storage: PostgreSQL scratch database ${scratchName} + Redis (prefix ${redisKeyPrefix}), app and load on loopback (${issuer})`,
      `load: separate process; ${SECONDS} s per phase after ${WARMUP_SECONDS} s warm-up; HTTP phases: ${CONNECTIONS} autocannon connections; logins: ${LOGIN_WORKERS} concurrent cookie-jar browsers over ${USER_COUNT} users`,
      `login rate limits RAISED for the benchmark to ${describeLimits(config.rateLimits)} (production defaults: ${describeLimits(defaults.rateLimits)})`,
      'latencies: autocannon (2xx responses) for HTTP phases; whole login incl. code exchange for logins. Errors/non-2xx include the warm-up.',
    ];
    console.log(report(results, context));
    return results.some((r) => r.errors > 0 || (r.non2xx ?? 0) > 0) ? 1 : 0;
  } finally {
    await teardown();
  }
}

main().then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    console.error('bench failed:', err);
    process.exitCode = 1;
  },
);
