/**
 * `npm run bench`: Monban against the library it is built on, on this machine, loopback only.
 *
 * Everything runs from the built code (dist/), each in a process of its own: the orchestrator
 * (this file), the load generator (load.ts), Monban on PostgreSQL + Redis (target.ts, production
 * configuration and bcrypt cost), a bare oidc-provider in memory with the same token format
 * (baseline.ts), Monban on the embedded default (PGlite on disk, no Redis), and Monban with
 * WEB_CONCURRENCY workers. Each figure alternates Monban and baseline phases (the order swaps
 * every round) and reports medians, so a machine that gets busier mid-run skews both sides alike.
 *
 * Printed and written to bench/results/<time>.json: each figure with its ratio to the baseline
 * and the issue's goal, p50/p99, CPU per request (process CPU time / completed requests), and for
 * logins PostgreSQL statements and Redis commands per login counted by the app's own
 * instrumentation, PostgreSQL CPU per login, the bcrypt ceiling measured in the same run, Redis
 * bytes per live session, memory, worker scaling and the load average. Exits non-zero when a
 * phase saw errors (a missed goal is reported, not fatal: this box is shared).
 *
 * Knobs (environment): BENCH_SECONDS (5; logins one at a time 3x), BENCH_WARMUP_SECONDS (1),
 * BENCH_LOGIN_WARMUP_SECONDS (20, each side's logins before the login rounds), BENCH_ROUNDS (3),
 * BENCH_CONNECTIONS (16), BENCH_LOGIN_WORKERS (8), BENCH_USERS (4), BENCH_WORKERS (worker counts
 * for the scaling figures, default "2,<cores>"; "" skips them), BENCH_EMBEDDED (1; 0 skips),
 * BENCH_RESULTS_DIR (bench/results), BENCH_PROFILE_DIR (unset; when set, a CPU profile of Monban's
 * process in each of its measured windows, as <phase>.cpuprofile there), BENCH_PROFILE_KIND (cpu;
 * heap writes a sampling heap profile of the allocations instead, as <phase>.heapprofile).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig } from '../src/config/load.js';
import { difference, type StorageCounts } from '../src/observability/storage-counters.js';
import { freePort } from '../test/helpers/app.js';
import { createScratchDatabase } from '../test/helpers/databases.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../test/helpers/env.js';
import type { BaselineStarted } from './baseline.js';
import { cpuAvailable, cpuMs, mainThreadWakeUps, readThreads, threadsSince } from './cpu.js';
import { Child } from './ipc.js';
import { stepsFileOf } from './profile-steps.js';
import type { StepsRecorded } from './steps.js';
import { machineTraits } from './machine.js';
import type { Command, LoginMethod, LoginPhase, LoginUser, PhaseResult, SeedResult } from './protocol.js';
import { report, stepsTable, type BenchResults, type FigureResult, type LoginSteps, type Side } from './report.js';
import type { TargetStarted } from './target.js';

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

const CORES = os.availableParallelism();
const SECONDS = numberFromEnv('BENCH_SECONDS', 5, { min: 1 });
const WARMUP_SECONDS = numberFromEnv('BENCH_WARMUP_SECONDS', 1);
/**
 * V8 compiles a function with its optimising tiers (Maglev, then TurboFan) only once it has run
 * enough; at a bcrypt-bound 15 logins a second, much of a login's code is still in the baseline
 * tiers for the first half-minute after start, where the bare library, at 500 a second, is
 * optimised within a second. Each side first logs in for this long, so that the rounds measure
 * a server that has been up a while; the warm-up's own CPU per login is reported beside them.
 */
const LOGIN_WARMUP_SECONDS = numberFromEnv('BENCH_LOGIN_WARMUP_SECONDS', 20);
/**
 * Logins one at a time last as long as three phases: at bcrypt cost 11 one takes about 130 ms,
 * so a phase holds some 40 of them, and a moment of other work on the machine moved a 5-second
 * figure by a fifth or more.
 */
const STEPS_SECONDS = 3 * SECONDS;
/**
 * Instead of the figures: only the logins one at a time at bcrypt's cheapest cost, after their
 * warm-up, each round's CPU per step printed. About a minute and a half: a quick look at what a
 * change to a login's code costs, which the full run's loaded figures hide in their spread.
 */
const STEPS_ONLY = process.env.BENCH_STEPS_ONLY === '1';
const ROUNDS = numberFromEnv('BENCH_ROUNDS', 3, { integer: true, min: 1 });
const CONNECTIONS = numberFromEnv('BENCH_CONNECTIONS', 16, { integer: true, min: 1 });
const LOGIN_WORKERS = numberFromEnv('BENCH_LOGIN_WORKERS', 8, { integer: true, min: 1 });
/** bcrypt's lowest cost: a Monban whose logins show the code's own CPU, without the hashes'. */
const CHEAP_BCRYPT_COST = 4;
const USER_COUNT = numberFromEnv('BENCH_USERS', 4, { integer: true, min: 1 });
const EMBEDDED = process.env.BENCH_EMBEDDED !== '0';
const WORKER_COUNTS = [
  ...new Set(
    (process.env.BENCH_WORKERS ?? `2,${CORES}`)
      .split(',')
      .filter((s) => s.trim() !== '')
      .map((s) => {
        const n = Number(s);
        if (!Number.isInteger(n) || n < 2)
          throw new Error(`BENCH_WORKERS: worker counts are whole numbers >= 2, got "${s}"`);
        return n;
      }),
  ),
];
/** Instead of the figures: this many seconds of steady mixed load, watching Monban's memory. */
const SOAK_SECONDS = numberFromEnv('BENCH_SOAK_SECONDS', 0);
const SOAK_SAMPLE_MS = 10_000;
const RESULTS_DIR = path.resolve(process.env.BENCH_RESULTS_DIR ?? 'bench/results');
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR ? path.resolve(process.env.BENCH_PROFILE_DIR) : undefined;
const PROFILE_KIND = process.env.BENCH_PROFILE_KIND ?? 'cpu';
if (PROFILE_KIND !== 'cpu' && PROFILE_KIND !== 'heap') {
  throw new Error(`BENCH_PROFILE_KIND must be cpu or heap, got "${PROFILE_KIND}"`);
}
/** Generous bound for each request to a child (a phase, a start, a seed of logins). */
const CHILD_TIMEOUT_MS = (WARMUP_SECONDS + Math.max(SECONDS, LOGIN_WARMUP_SECONDS)) * 1000 + 120_000;
/** Starting a target (migrations, users hashed at the production cost; PGlite) can take minutes on a busy machine. */
const START_TIMEOUT_MS = 600_000;
const TEARDOWN_TIMEOUT_MS = 30_000;

/** Login throttling would stop the benchmark after a few hundred logins from 127.0.0.1. */
const RAISED_LIMIT = { points: 1_000_000_000, durationSeconds: 60 };
const RATE_LIMITS = { loginPerAccountAndIp: RAISED_LIMIT, loginPerAccount: RAISED_LIMIT, loginPerIp: RAISED_LIMIT };
/** The same for passkey sign-ins (a success gives back the account's count, never the IP's). */
const PASSKEY_LIMITS = { attemptsPerAccount: RAISED_LIMIT, attemptsPerIp: RAISED_LIMIT };

const PASSWORD = 'Sakura-Tide-Ocean-2026!';
const REDIRECT_URI = 'http://127.0.0.1:8976/bench/callback';

const here = path.dirname(fileURLToPath(import.meta.url));
const script = (name: string) => path.join(here, `${name}.js`);

/**
 * The Node flags `npm start` gives the server (package.json), which the image sets too: Monban's
 * processes here run with them, as production does. Without them V8 let Monban's young
 * generation grow to 128 MB, where the server's is held at 32.
 */
function startFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(path.join(here, '../../package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  const flags = /\bnode((?:\s+--\S+)*)\s+dist\/src\/main\.js/.exec(scripts.start);
  if (!flags) throw new Error(`cannot find the server's command in npm start: ${scripts.start}`);
  return flags[1]!.split(/\s+/).filter(Boolean);
}

// ---------------------------------------------------------------- helpers

function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

const median = (values: number[]): number => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function clientCredentialsToken(issuer: string, clientId: string, secret: string): Promise<string> {
  const res = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: basicAuth(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token)
    throw new Error(`client_credentials at ${issuer} failed: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** A key's family: its name after the prefix, up to its hash tag (`o:SE:u`, `o:GR`, `rl:login`). */
function keyFamily(key: string, prefix: string): string {
  const name = key.slice(prefix.length);
  const tag = name.indexOf(':{');
  return (tag === -1 ? name.split(':').slice(0, 2).join(':') : name.slice(0, tag)) || name;
}

/** The keys under a prefix, a SCAN batch at a time. */
async function* scanKeys(redis: Redis, prefix: string): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (batch.length > 0) yield batch;
  } while (cursor !== '0');
}

/** The names of every key under the prefix. */
async function redisKeyNames(redis: Redis, prefix: string): Promise<Set<string>> {
  const names = new Set<string>();
  for await (const batch of scanKeys(redis, prefix)) for (const key of batch) names.add(key);
  return names;
}

/**
 * Bytes Redis holds for the keys under a prefix but for those in `except` (MEMORY USAGE, which
 * includes its own overhead), also by family.
 */
async function redisBytes(
  redis: Redis,
  prefix: string,
  except: ReadonlySet<string>,
): Promise<{ keys: number; bytes: number; byFamily: Record<string, { keys: number; bytes: number }> }> {
  let keys = 0;
  let bytes = 0;
  const byFamily: Record<string, { keys: number; bytes: number }> = {};
  for await (const scanned of scanKeys(redis, prefix)) {
    const batch = scanned.filter((key) => !except.has(key));
    if (batch.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of batch) pipeline.memory('USAGE', key);
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([err, used], i) => {
      const key = batch[i];
      if (err || typeof used !== 'number' || key === undefined) return;
      keys += 1;
      bytes += used;
      const family = (byFamily[keyFamily(key, prefix)] ??= { keys: 0, bytes: 0 });
      family.keys += 1;
      family.bytes += used;
    });
  }
  return { keys, bytes, byFamily };
}

async function deleteRedisKeys(redis: Redis, prefix: string): Promise<void> {
  for await (const batch of scanKeys(redis, prefix)) await redis.unlink(...batch);
}

// ---------------------------------------------------------------- measuring one phase

/** A process under test: its IPC child, the pids whose CPU is its CPU, and its counters if it has them. */
interface Target {
  name: string;
  child: Child;
  issuer: string;
  /** Cluster primaries: the workers' CPU counts too. */
  tree: boolean;
  counters: boolean;
}

interface Measured {
  result: PhaseResult;
  /** Operations completed in the warm-up before the window (they leave state behind too). */
  warmupCompleted: number;
  cpuMs: number;
  /** Of cpuMs, what libuv's pool used (bcrypt's threads). */
  poolCpuMs: number;
  /** Of cpuMs, what the main threads used (the rest: V8's helper threads, garbage collection, compilation). */
  mainThreadCpuMs: number;
  /** Times the main threads slept and were woken in the window (cpu.ts). */
  mainThreadWakeUps: number;
  pgCpuMs: number;
  /** The load generator's CPU in the window (it shares the machine's cores with the target). */
  loadCpuMs: number;
  /** The local Redis server's CPU in the window (NaN when it is not a process of this machine). */
  redisCpuMs: number;
  /** The main thread's garbage-collection pauses in the window (single-process Monban only). */
  gcPausesMs?: number;
  counts: StorageCounts | undefined;
}

class Bench {
  readonly errors: string[] = [];

  constructor(
    private readonly load: Child,
    private readonly pgBackendsCpu: () => Promise<number>,
    private readonly redisServerCpu: () => number,
  ) {}

  async #counters(target: Target): Promise<StorageCounts | undefined> {
    return target.counters ? target.child.request<StorageCounts>({ kind: 'counters' }, CHILD_TIMEOUT_MS) : undefined;
  }

  async #gcPauses(target: Target): Promise<number | undefined> {
    return target.counters ? target.child.request<number>({ kind: 'gc' }, CHILD_TIMEOUT_MS) : undefined;
  }

  /** With BENCH_PROFILE_DIR, a CPU (or heap) profile of a single Monban process (its counters say so): not workers, not the baseline. */
  async #startProfile(target: Target): Promise<string | undefined> {
    if (!PROFILE_DIR || !target.counters) return undefined;
    await target.child.request({ kind: 'profile-start', heap: PROFILE_KIND === 'heap' }, CHILD_TIMEOUT_MS);
    return PROFILE_DIR;
  }

  async #stopProfile(target: Target, profileDir: string, label: string): Promise<string> {
    mkdirSync(profileDir, { recursive: true });
    const file = path.join(profileDir, `${label.replace(/[^a-z0-9]+/gi, '-')}-${Date.now()}.${PROFILE_KIND}profile`);
    await target.child.request({ kind: 'profile-stop', file }, CHILD_TIMEOUT_MS);
    return file;
  }

  /**
   * The command's logins one at a time (one worker, for STEPS_SECONDS) while the target records
   * its main thread's CPU per request step (steps.ts); figures per login.
   */
  async measureSteps(target: Target, label: string, command: LoginPhase): Promise<LoginSteps> {
    const profileDir = await this.#startProfile(target);
    const gcBefore = await this.#gcPauses(target);
    const arrivals = profileDir !== undefined && PROFILE_KIND === 'cpu';
    await target.child.request({ kind: 'steps-start', arrivals }, CHILD_TIMEOUT_MS);
    const wakeUpsBefore = mainThreadWakeUps([target.child.pid]);
    const oneAtATime: LoginPhase = { ...command, seconds: STEPS_SECONDS, workers: 1 };
    const result = await this.load.request<PhaseResult>(oneAtATime, CHILD_TIMEOUT_MS);
    const wakeUps = mainThreadWakeUps([target.child.pid]) - wakeUpsBefore;
    const recorded = await target.child.request<StepsRecorded>({ kind: 'steps-stop' }, CHILD_TIMEOUT_MS);
    const gcAfter = await this.#gcPauses(target);
    if (profileDir) {
      const file = await this.#stopProfile(target, profileDir, label);
      // Beside the profile, for `node dist/bench/profile-steps.js <profile>`.
      if (recorded.arrivals) writeFileSync(stepsFileOf(file), JSON.stringify(recorded.arrivals));
    }
    this.#noteErrors(`${target.name} logins one at a time`, result);
    const logins = result.completed;
    const steps = recorded.steps.map(({ step, requests, cpuMs: stepCpuMs }) => ({
      step,
      requestsPerLogin: requests / logins,
      cpuMsPerRequest: stepCpuMs / requests,
    }));
    const inRequests = recorded.steps.reduce((sum, step) => sum + step.cpuMs, 0);
    return {
      logins,
      mainThreadCpuMsPerLogin: recorded.totalCpuMs / logins,
      mainThreadWakeUpsPerLogin: wakeUps / logins,
      outsideStepsCpuMsPerLogin: (recorded.totalCpuMs - inRequests) / logins,
      ...(gcBefore !== undefined && gcAfter !== undefined ? { gcPausesMsPerLogin: (gcAfter - gcBefore) / logins } : {}),
      steps,
    };
  }

  /** The phase run for `seconds` without measuring it: its errors count, its figures do not. */
  async warmUp(label: string, command: Command, seconds: number): Promise<PhaseResult> {
    const warm = await this.load.request<PhaseResult>({ ...command, seconds }, CHILD_TIMEOUT_MS);
    this.#noteErrors(`${label} (warm-up)`, warm);
    return warm;
  }

  /** A warm-up of the same phase, then the measured window. */
  async measure(target: Target, label: string, command: Command): Promise<Measured> {
    let warmupCompleted = 0;
    if (WARMUP_SECONDS > 0) {
      const warm = await this.warmUp(label, command, WARMUP_SECONDS);
      warmupCompleted = warm.completed;
      if (command.kind === 'refresh') command = { ...command, chains: warm.chains ?? [] };
    }
    const countsBefore = await this.#counters(target);
    const gcBefore = await this.#gcPauses(target);
    const profileDir = await this.#startProfile(target);
    const pgBefore = await this.pgBackendsCpu();
    const tree = { children: target.tree };
    const threadsBefore = readThreads([target.child.pid], tree);
    const loadBefore = cpuMs([this.load.pid]);
    const redisBefore = this.redisServerCpu();
    const result = await this.load.request<PhaseResult>(command, CHILD_TIMEOUT_MS);
    const threads = threadsSince(threadsBefore, [target.child.pid], tree);
    const loadCpu = cpuMs([this.load.pid]) - loadBefore;
    const redisCpu = this.redisServerCpu() - redisBefore;
    const pgCpu = (await this.pgBackendsCpu()) - pgBefore;
    const countsAfter = await this.#counters(target);
    const gcAfter = await this.#gcPauses(target);
    if (profileDir) await this.#stopProfile(target, profileDir, label);
    this.#noteErrors(label, result);
    return {
      result,
      warmupCompleted,
      ...threads,
      pgCpuMs: pgCpu,
      loadCpuMs: loadCpu,
      redisCpuMs: redisCpu,
      ...(gcBefore !== undefined && gcAfter !== undefined ? { gcPausesMs: gcAfter - gcBefore } : {}),
      counts: countsBefore && countsAfter ? difference(countsAfter, countsBefore) : undefined,
    };
  }

  #noteErrors(label: string, result: PhaseResult): void {
    if (result.errors === 0) return;
    const reasons = Object.entries(result.failures)
      .sort((a, b) => b[1] - a[1])
      .map(([reason, count]) => `    ${count} x ${reason}`);
    this.errors.push(`${label}: ${result.errors} errors\n${reasons.join('\n')}`);
  }
}

/** Medians of the rounds' figures for one side of a comparison. */
function side(runs: Measured[], ops = (m: Measured) => m.result.completed): Side {
  const completed = runs.reduce((sum, m) => sum + ops(m), 0);
  const per = (value: number) => (completed > 0 ? value / completed : NaN);
  const counts = runs.every((m) => m.counts) ? runs.map((m) => m.counts!) : undefined;
  return {
    rate: median(runs.map((m) => m.result.rate)),
    rates: runs.map((m) => m.result.rate),
    p50Ms: median(runs.map((m) => m.result.p50Ms ?? NaN)),
    p99Ms: median(runs.map((m) => m.result.p99Ms ?? NaN)),
    completed,
    cpuMsPerOp: per(runs.reduce((sum, m) => sum + m.cpuMs, 0)),
    poolCpuMsPerOp: per(runs.reduce((sum, m) => sum + m.poolCpuMs, 0)),
    mainThreadCpuMsPerOp: per(runs.reduce((sum, m) => sum + m.mainThreadCpuMs, 0)),
    mainThreadWakeUpsPerOp: per(runs.reduce((sum, m) => sum + m.mainThreadWakeUps, 0)),
    pgCpuMsPerOp: per(runs.reduce((sum, m) => sum + m.pgCpuMs, 0)),
    loadCpuMsPerOp: per(runs.reduce((sum, m) => sum + m.loadCpuMs, 0)),
    redisCpuMsPerOp: per(runs.reduce((sum, m) => sum + m.redisCpuMs, 0)),
    ...(runs.every((m) => m.gcPausesMs !== undefined)
      ? { gcPausesMsPerOp: per(runs.reduce((sum, m) => sum + m.gcPausesMs!, 0)) }
      : {}),
    ...(counts
      ? {
          dbStatementsPerOp: per(counts.reduce((sum, c) => sum + c.dbStatements, 0)),
          redisCommandsPerOp: per(counts.reduce((sum, c) => sum + c.redisCommands, 0)),
          redisRoundTripsPerOp: per(counts.reduce((sum, c) => sum + c.redisRoundTrips, 0)),
        }
      : {}),
    errors: runs.reduce((sum, m) => sum + m.result.errors, 0),
  };
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const startedAt = new Date();
  const defaults = loadConfig({ env: {} });
  const secret = randomBytes(32).toString('base64');
  // As long as the default `monban:`, so Redis bytes per session are what a default install holds.
  const redisKeyPrefix = `mb${randomBytes(2).toString('hex')}:`;
  const scratch = await createScratchDatabase();
  const scratchName = new URL(scratch.url).pathname.slice(1);
  const embeddedDir = mkdtempSync(path.join(os.tmpdir(), 'monban-bench-embedded-'));
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 2 });
  const admin = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });

  /** CPU of the PostgreSQL backends serving the benchmark's scratch database (same machine). */
  const pgBackendsCpu = async () => {
    if (!cpuAvailable) return NaN;
    const { rows } = await admin.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [
      scratchName,
    ]);
    return cpuMs(rows.map((r) => r.pid));
  };

  const children: Child[] = [];
  const spawn = (name: string, file: string, env: NodeJS.ProcessEnv = {}, execArgv: string[] = []) => {
    const child = new Child(name, script(file), env, execArgv);
    children.push(child);
    return child;
  };
  const monbanOverrides = (port: number, extra: Record<string, unknown> = {}) => ({
    port,
    issuer: `http://127.0.0.1:${port}`,
    databaseUrl: scratch.url,
    redisUrl: TEST_REDIS_URL,
    secret,
    dataDir: 'memory://',
    redisKeyPrefix,
    logLevel: 'warn',
    rateLimits: RATE_LIMITS,
    passkeys: PASSKEY_LIMITS,
    ...extra,
  });
  const startMonban = async (name: string, overrides: Record<string, unknown>, setup: boolean) => {
    const port = overrides.port as number;
    const child = spawn(name, 'target', { BENCH_TARGET: JSON.stringify({ port, overrides }) }, startFlags());
    const started = await child.request<TargetStarted>(
      {
        kind: 'start',
        ...(setup ? { setup: { redirectUri: REDIRECT_URI, users: USER_COUNT, password: PASSWORD } } : {}),
      },
      START_TIMEOUT_MS,
    );
    return { child, started, issuer: `http://127.0.0.1:${started.port}` };
  };

  let tearingDown: Promise<void> | undefined;
  const teardown = () =>
    (tearingDown ??= (async () => {
      setTimeout(() => {
        console.error(`bench: teardown took longer than ${TEARDOWN_TIMEOUT_MS} ms; exiting anyway`);
        process.exit(process.exitCode ?? 2);
      }, TEARDOWN_TIMEOUT_MS).unref();
      const steps: [string, () => Promise<unknown>][] = [
        ['stopping the processes', () => Promise.all(children.map((c) => c.close()))],
        ['deleting Redis keys', () => deleteRedisKeys(redis, redisKeyPrefix)],
        ['closing connections', () => Promise.all([redis.quit(), admin.end()])],
        ['dropping the scratch database', () => scratch.drop()],
        [
          'removing the embedded data',
          () => {
            rmSync(embeddedDir, { recursive: true, force: true });
            return Promise.resolve();
          },
        ],
      ];
      for (const [what, step] of steps) {
        await step().catch((err: unknown) => console.error(`bench: ${what} failed:`, err));
      }
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`bench: ${signal}, cleaning up`);
    process.exitCode = 130;
    void teardown().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const loadBefore = os.loadavg();
    const traits = await machineTraits();
    const load = spawn('load', 'load');
    const redisPid = Number(/^process_id:(\d+)/m.exec(await redis.info('server'))?.[1]);
    const redisServerCpu = () => (cpuAvailable && redisPid ? cpuMs([redisPid]) : NaN);
    const bench = new Bench(load, pgBackendsCpu, redisServerCpu);

    console.error('bench: starting the bare oidc-provider and Monban (PostgreSQL + Redis) ...');
    const baselineChild = spawn('baseline', 'baseline');
    const baselineStarted = await baselineChild.request<BaselineStarted>(
      { kind: 'start', port: await freePort(), redirectUri: REDIRECT_URI, refreshChains: CONNECTIONS },
      START_TIMEOUT_MS,
    );
    const baseline: Target = {
      name: 'baseline',
      child: baselineChild,
      issuer: `http://127.0.0.1:${baselineStarted.port}`,
      tree: false,
      counters: false,
    };
    const monbanRun = await startMonban('monban', monbanOverrides(await freePort()), true);
    const monban: Target = {
      name: 'monban',
      child: monbanRun.child,
      issuer: monbanRun.issuer,
      tree: false,
      counters: true,
    };
    const rp = monbanRun.started.client!;
    const users: LoginUser[] = monbanRun.started.users!.map((email) => ({ email, password: PASSWORD }));
    const loginTarget = {
      issuer: monban.issuer,
      clientId: rp.clientId,
      clientSecret: rp.clientSecret,
      redirectUri: REDIRECT_URI,
    };
    const loginPhase = (seconds = SECONDS, method: LoginMethod = 'password'): LoginPhase => ({
      kind: 'logins',
      method,
      ...loginTarget,
      users,
      workers: LOGIN_WORKERS,
      seconds,
    });
    /** Logins at the bare provider, whose interaction page finishes at once. */
    const bareLoginPhase = (): LoginPhase => ({
      ...loginPhase(SECONDS, 'bare'),
      issuer: baseline.issuer,
      clientId: baselineStarted.client.clientId,
      clientSecret: baselineStarted.client.clientSecret,
    });

    /**
     * A Monban with bcrypt's cheapest hashes, its own users hashed so, and its logins warmed up:
     * what the code costs when bcrypt's threads neither share the cores with it nor leave it idle
     * (its caches cold) for each hash.
     */
    const startCheapHash = async (): Promise<{ target: Target; logins: LoginPhase }> => {
      const run = await startMonban(
        'monban-cheap-hash',
        monbanOverrides(await freePort(), { bcryptCost: CHEAP_BCRYPT_COST }),
        true,
      );
      const target: Target = { ...monban, name: 'monban-cheap-hash', child: run.child, issuer: run.issuer };
      const logins: LoginPhase = {
        ...loginPhase(),
        issuer: run.issuer,
        clientId: run.started.client!.clientId,
        clientSecret: run.started.client!.clientSecret,
        users: run.started.users!.map((email) => ({ email, password: PASSWORD })),
      };
      if (LOGIN_WARMUP_SECONDS > 0) await bench.warmUp('cheap-hash logins', logins, LOGIN_WARMUP_SECONDS);
      return { target, logins };
    };

    if (STEPS_ONLY) {
      const cheap = await startCheapHash();
      for (let round = 0; round < ROUNDS; round += 1) {
        console.error(
          `bench: logins one at a time at bcrypt cost ${CHEAP_BCRYPT_COST} (round ${round + 1}/${ROUNDS}) ...`,
        );
        const steps = await bench.measureSteps(cheap.target, 'cheap-hash logins one at a time', cheap.logins);
        console.log(`\n${stepsTable([[`Monban, bcrypt cost ${CHEAP_BCRYPT_COST}, round ${round + 1}`, steps]])}`);
      }
      await cheap.target.child.close();
      if (bench.errors.length > 0) console.log(['', 'Errors:', ...bench.errors].join('\n'));
      return bench.errors.length > 0 ? 1 : 0;
    }

    if (SOAK_SECONDS > 0) {
      // ---------------------------------------------- the soak: is memory flat under load?
      console.error(`bench: soak, ${SOAK_SECONDS} s of logins and client_credentials, memory every 10 s ...`);
      const samples: { seconds: number; rssBytes: number; heapUsedBytes: number }[] = [];
      const began = Date.now();
      const sample = async () => {
        const memory = await monban.child.request<NodeJS.MemoryUsage>({ kind: 'memory' }, CHILD_TIMEOUT_MS);
        samples.push({ seconds: (Date.now() - began) / 1000, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed });
      };
      const timer = setInterval(() => void sample(), SOAK_SAMPLE_MS);
      const soakForm = {
        authorization: basicAuth(rp.clientId, rp.clientSecret),
        'content-type': 'application/x-www-form-urlencoded',
      };
      const [logins, tokens] = await Promise.all([
        load.request<PhaseResult>({ ...loginPhase(SOAK_SECONDS), workers: 2 }, SOAK_SECONDS * 1000 + 120_000),
        load.request<PhaseResult>(
          {
            kind: 'http',
            url: `${monban.issuer}/token`,
            method: 'POST',
            headers: soakForm,
            body: 'grant_type=client_credentials',
            bodyMustContain: '"access_token"',
            connections: 4,
            seconds: SOAK_SECONDS,
          } satisfies Command,
          SOAK_SECONDS * 1000 + 120_000,
        ),
      ]);
      clearInterval(timer);
      await sample();
      // Drift: the last minute against the second (the first is JIT and caches filling up).
      const window = (from: number, to: number) =>
        median(samples.filter((s) => s.seconds >= from && s.seconds < to).map((s) => s.rssBytes));
      const warm = window(60, 120);
      const end = window(SOAK_SECONDS - 60, SOAK_SECONDS + 60);
      const soak = {
        seconds: SOAK_SECONDS,
        logins: logins.completed,
        clientCredentials: tokens.completed,
        errors: logins.errors + tokens.errors,
        rssWarmBytes: warm,
        rssEndBytes: end,
        driftPercent: ((end - warm) / warm) * 100,
        samples,
      };
      const file = path.join(RESULTS_DIR, `soak-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
      mkdirSync(RESULTS_DIR, { recursive: true });
      writeFileSync(
        file,
        `${JSON.stringify({ startedAt: startedAt.toISOString(), loadAverageBefore: loadBefore, loadAverageAfter: os.loadavg(), soak }, null, 2)}\n`,
      );
      console.log(
        [
          '',
          `Soak, ${SOAK_SECONDS} s: ${logins.completed} logins and ${tokens.completed} client_credentials tokens, ${soak.errors} errors`,
          `Monban RSS: ${(warm / 1048576).toFixed(0)} MB in the second minute, ${(end / 1048576).toFixed(0)} MB in the last: drift ${soak.driftPercent.toFixed(1)} % (goal < 10 %)`,
          `load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${os
            .loadavg()
            .map((l) => l.toFixed(2))
            .join(' ')}`,
          `written to ${path.relative(process.cwd(), file)}`,
        ].join('\n'),
      );
      return soak.errors > 0 ? 1 : 0;
    }

    // ------------------------------------------------ password logins against the bcrypt ceiling
    const bcryptRuns: Measured[] = [];
    const loginRuns: Measured[] = [];
    const passkeyRuns: Measured[] = [];
    const bareLoginRuns: Measured[] = [];
    let loginWarmUp: Measured | undefined;
    if (LOGIN_WARMUP_SECONDS > 0) {
      console.error(`bench: warming up each side's logins for ${LOGIN_WARMUP_SECONDS} s (V8's optimising tiers) ...`);
      loginWarmUp = await bench.measure(monban, 'password logins (warm-up)', loginPhase(LOGIN_WARMUP_SECONDS));
      await bench.measure(monban, 'passkey logins (warm-up)', loginPhase(LOGIN_WARMUP_SECONDS, 'passkey'));
      await bench.measure(baseline, 'bare oidc-provider logins (warm-up)', {
        ...bareLoginPhase(),
        seconds: LOGIN_WARMUP_SECONDS,
      });
    }
    for (let round = 0; round < ROUNDS; round += 1) {
      const steps = [
        async () => {
          console.error(`bench: bcrypt ceiling (round ${round + 1}/${ROUNDS}) ...`);
          const threadsBefore = readThreads([monban.child.pid]);
          const ceiling = await monban.child.request<{ checks: number; seconds: number; rate: number }>(
            { kind: 'bcrypt', seconds: SECONDS, concurrency: LOGIN_WORKERS },
            CHILD_TIMEOUT_MS,
          );
          bcryptRuns.push({
            result: {
              rate: ceiling.rate,
              completed: ceiling.checks,
              seconds: ceiling.seconds,
              p50Ms: undefined,
              p99Ms: undefined,
              errors: 0,
              failures: {},
            },
            warmupCompleted: 0,
            ...threadsSince(threadsBefore, [monban.child.pid]),
            pgCpuMs: 0,
            loadCpuMs: 0,
            redisCpuMs: 0,
            counts: undefined,
          });
        },
        async () => {
          console.error(`bench: password logins (round ${round + 1}/${ROUNDS}) ...`);
          const measured = await bench.measure(monban, 'password logins', loginPhase());
          loginRuns.push(measured);
        },
        async () => {
          // Issue 17: a passkey alone (each user's passkey enrolled in the console before the first round).
          console.error(`bench: passkey logins (round ${round + 1}/${ROUNDS}) ...`);
          const measured = await bench.measure(monban, 'passkey logins', loginPhase(SECONDS, 'passkey'));
          passkeyRuns.push(measured);
        },
        async () => {
          // The library's own floor: a login whose interaction finishes at once, at the bare provider.
          console.error(`bench: bare oidc-provider logins (round ${round + 1}/${ROUNDS}) ...`);
          bareLoginRuns.push(await bench.measure(baseline, 'bare oidc-provider logins', bareLoginPhase()));
        },
      ];
      for (const step of round % 2 ? steps.reverse() : steps) await step();
    }
    // The Redis bytes a login leaves: every key (sessions, grants, tokens, codes, counters) that one
    // more phase of password logins adds, counted at once, while its consumed codes (a minute) live.
    console.error('bench: password logins, the Redis bytes they leave ...');
    const keysBefore = await redisKeyNames(redis, redisKeyPrefix);
    const bytesPhase = await bench.measure(monban, 'password logins (Redis bytes)', loginPhase());
    const bytesLogins = bytesPhase.result.completed + bytesPhase.warmupCompleted;
    const sessionBytes = await redisBytes(redis, redisKeyPrefix, keysBefore);

    // ------------------------------------------------ one login at a time: CPU per step
    console.error('bench: password logins one at a time, CPU per step ...');
    const monbanSteps = await bench.measureSteps(monban, 'logins one at a time', loginPhase());
    console.error('bench: bare oidc-provider logins one at a time, CPU per step ...');
    const bareSteps = await bench.measureSteps(baseline, 'bare logins one at a time', bareLoginPhase());
    // The same logins on a Monban with bcrypt's cheapest hashes (startCheapHash).
    console.error(`bench: password logins one at a time at bcrypt cost ${CHEAP_BCRYPT_COST}, CPU per step ...`);
    const cheap = await startCheapHash();
    const cheapHashSteps = await bench.measureSteps(cheap.target, 'cheap-hash logins one at a time', cheap.logins);
    await cheap.target.child.close();

    // ------------------------------------------------ protocol figures, Monban vs baseline
    console.error('bench: logging in the refresh chains ...');
    const seeded = await load.request<SeedResult>(
      { kind: 'seed', ...loginTarget, users, count: CONNECTIONS },
      CHILD_TIMEOUT_MS,
    );
    const chains: Record<string, string[]> = { monban: seeded.refreshTokens, baseline: baselineStarted.refreshTokens };
    const credentials: Record<string, { clientId: string; clientSecret: string }> = {
      monban: rp,
      baseline: baselineStarted.client,
    };
    const userinfoTokens: Record<string, string> = {
      monban: seeded.accessTokens[0]!,
      baseline: baselineStarted.userinfoToken,
    };
    const form = (target: Target) => ({
      authorization: basicAuth(credentials[target.name]!.clientId, credentials[target.name]!.clientSecret),
      'content-type': 'application/x-www-form-urlencoded',
    });
    interface Figure {
      id: string;
      name: string;
      command(target: Target): Command | Promise<Command>;
    }
    const http = (
      target: Target,
      rest: Omit<Extract<Command, { kind: 'http' }>, 'kind' | 'connections' | 'seconds' | 'url'> & { path: string },
    ): Command => {
      const { path: urlPath, ...request } = rest;
      return {
        kind: 'http',
        url: `${target.issuer}${urlPath}`,
        connections: CONNECTIONS,
        seconds: SECONDS,
        ...request,
      };
    };
    const figures: Figure[] = [
      {
        id: 'discovery',
        name: 'discovery (GET /.well-known/openid-configuration)',
        command: (t) =>
          http(t, { path: '/.well-known/openid-configuration', method: 'GET', bodyMustContain: '"issuer"' }),
      },
      {
        id: 'jwks',
        name: 'JWKS (GET /jwks)',
        command: (t) => http(t, { path: '/jwks', method: 'GET', bodyMustContain: '"keys"' }),
      },
      {
        id: 'client_credentials',
        name: 'client_credentials (POST /token)',
        command: (t) =>
          http(t, {
            path: '/token',
            method: 'POST',
            headers: form(t),
            body: 'grant_type=client_credentials',
            bodyMustContain: '"access_token"',
          }),
      },
      {
        id: 'introspection',
        name: 'introspection (POST /token/introspection)',
        command: async (t) => {
          const { clientId, clientSecret } = credentials[t.name]!;
          const token = await clientCredentialsToken(t.issuer, clientId, clientSecret);
          return http(t, {
            path: '/token/introspection',
            method: 'POST',
            headers: form(t),
            body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
            bodyMustContain: '"active":true',
          });
        },
      },
      {
        id: 'userinfo',
        name: 'userinfo (GET /me)',
        command: (t) =>
          http(t, {
            path: '/me',
            method: 'GET',
            headers: { authorization: `Bearer ${userinfoTokens[t.name]!}` },
            bodyMustContain: '"sub"',
          }),
      },
      {
        id: 'refresh',
        name: 'refresh with rotation (POST /token)',
        command: (t) => ({
          kind: 'refresh',
          issuer: t.issuer,
          ...credentials[t.name]!,
          chains: chains[t.name]!,
          seconds: SECONDS,
        }),
      },
    ];

    const compare = async (figure: Figure, a: Target, b: Target): Promise<FigureResult> => {
      const runs: Record<string, Measured[]> = { [a.name]: [], [b.name]: [] };
      for (let round = 0; round < ROUNDS; round += 1) {
        console.error(`bench: ${figure.name}, ${a.name} vs ${b.name} (round ${round + 1}/${ROUNDS}) ...`);
        for (const target of round % 2 ? [b, a] : [a, b]) {
          const command = await figure.command(target);
          const measured = await bench.measure(target, `${figure.name} on ${target.name}`, command);
          if (command.kind === 'refresh') chains[target.name] = measured.result.chains ?? [];
          runs[target.name]!.push(measured);
        }
      }
      const monbanSide = side(runs[a.name]!);
      const baselineSide = side(runs[b.name]!);
      return {
        id: figure.id,
        name: figure.name,
        monban: monbanSide,
        baseline: baselineSide,
        ratio: monbanSide.rate / baselineSide.rate,
      };
    };

    const protocol: FigureResult[] = [];
    for (const figure of figures) protocol.push(await compare(figure, monban, baseline));

    const loginSide = side(loginRuns);
    const passkeySide = side(passkeyRuns);
    const ceilingSide = side(bcryptRuns);
    const cpuBesidesCeilingMsPerLogin = loginSide.cpuMsPerOp - ceilingSide.cpuMsPerOp;
    const bareLoginSide = side(bareLoginRuns);
    const warmUpSide = loginWarmUp && side([loginWarmUp]);
    const monbanMemory = await monban.child.request<NodeJS.MemoryUsage>({ kind: 'memory' }, CHILD_TIMEOUT_MS);

    // ------------------------------------------------ the embedded default
    let embedded: BenchResults['embedded'];
    // A part that fails (a start that times out on a busy machine) is reported; the rest is kept.
    if (EMBEDDED) {
      try {
        console.error('bench: starting Monban on the embedded default (PGlite on disk, no Redis) ...');
        const port = await freePort();
        const run = await startMonban(
          'embedded',
          { port, issuer: `http://127.0.0.1:${port}`, dataDir: embeddedDir, logLevel: 'warn', rateLimits: RATE_LIMITS },
          true,
        );
        const target: Target = { name: 'embedded', child: run.child, issuer: run.issuer, tree: false, counters: true };
        credentials.embedded = run.started.client!;
        const idle = await run.child.request<NodeJS.MemoryUsage>({ kind: 'memory' }, CHILD_TIMEOUT_MS);
        const figure = figures.find((f) => f.id === 'client_credentials')!;
        const result = await compare(figure, target, baseline);
        const loaded = await run.child.request<NodeJS.MemoryUsage>({ kind: 'memory' }, CHILD_TIMEOUT_MS);
        embedded = {
          clientCredentials: result,
          rssIdleBytes: idle.rss,
          rssLoadedBytes: loaded.rss,
          heapUsedLoadedBytes: loaded.heapUsed,
        };
        await run.child.close();
      } catch (err) {
        bench.errors.push(`embedded default: ${err instanceof Error ? err.message : String(err)}`);
      }
    }

    // ------------------------------------------------ workers
    const scaling: BenchResults['scaling'] = [
      { workers: 1, clientCredentials: protocol.find((f) => f.id === 'client_credentials')!.monban, logins: loginSide },
    ];
    for (const workers of WORKER_COUNTS) {
      console.error(`bench: Monban with WEB_CONCURRENCY=${workers} ...`);
      const port = await freePort();
      const run = await startMonban(`workers-${workers}`, monbanOverrides(port, { webConcurrency: workers }), false);
      const target: Target = {
        name: `workers-${workers}`,
        child: run.child,
        issuer: run.issuer,
        tree: true,
        counters: false,
      };
      credentials[target.name] = rp;
      const figure = figures.find((f) => f.id === 'client_credentials')!;
      const cc: Measured[] = [];
      const logins: Measured[] = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        cc.push(await bench.measure(target, `${figure.name} on ${target.name}`, await figure.command(target)));
        logins.push(
          await bench.measure(target, `password logins on ${target.name}`, {
            ...loginPhase(),
            issuer: target.issuer,
          }),
        );
      }
      scaling.push({ workers, clientCredentials: side(cc), logins: side(logins) });
      await run.child.close();
    }

    const results: BenchResults = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: {
        node: process.version,
        cores: CORES,
        cpu: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
        platform: `${os.platform()} ${os.arch()}`,
        ...traits,
        loadAverageBefore: loadBefore,
        loadAverageAfter: os.loadavg(),
      },
      settings: {
        seconds: SECONDS,
        warmupSeconds: WARMUP_SECONDS,
        loginWarmupSeconds: LOGIN_WARMUP_SECONDS,
        rounds: ROUNDS,
        connections: CONNECTIONS,
        loginWorkers: LOGIN_WORKERS,
        users: USER_COUNT,
        bcryptCost: monbanRun.started.bcryptCost,
        productionBcryptCost: defaults.bcryptCost,
        threadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
        rateLimits:
          'login and passkey limits raised to 1e9 per minute (production defaults would stop a benchmark from one IP)',
      },
      protocol,
      logins: {
        monban: loginSide,
        bcryptCeiling: ceilingSide,
        bareProvider: bareLoginSide,
        ratio: loginSide.rate / ceilingSide.rate,
        bcryptCpuMsPerCheck: ceilingSide.cpuMsPerOp,
        // Read per thread: bcrypt hashes in libuv's pool, everything else of a login runs outside it.
        nonHashCpuMsPerLogin: Number.isFinite(loginSide.poolCpuMsPerOp)
          ? loginSide.cpuMsPerOp - loginSide.poolCpuMsPerOp!
          : cpuBesidesCeilingMsPerLogin,
        cpuBesidesCeilingMsPerLogin,
        passkey: passkeySide,
        passkeyToPasswordRatio: passkeySide.rate / loginSide.rate,
        steps: {
          monban: monbanSteps,
          bareProvider: bareSteps,
          monbanCheapHash: cheapHashSteps,
          cheapBcryptCost: CHEAP_BCRYPT_COST,
        },
        ...(warmUpSide
          ? {
              warmUp: {
                seconds: LOGIN_WARMUP_SECONDS,
                logins: warmUpSide.completed,
                nonHashCpuMsPerLogin: warmUpSide.cpuMsPerOp - warmUpSide.poolCpuMsPerOp!,
                mainThreadCpuMsPerLogin: warmUpSide.mainThreadCpuMsPerOp!,
              },
            }
          : {}),
        redisBytesPerSession: sessionBytes.bytes / bytesLogins,
        redisKeysPerSession: sessionBytes.keys / bytesLogins,
        redisBytesPerSessionByFamily: Object.fromEntries(
          Object.entries(sessionBytes.byFamily).map(([family, { keys, bytes }]) => [
            family,
            { keys: keys / bytesLogins, bytes: bytes / bytesLogins },
          ]),
        ),
      },
      memory: { monbanRssBytes: monbanMemory.rss, monbanHeapUsedBytes: monbanMemory.heapUsed },
      ...(embedded ? { embedded } : {}),
      scaling,
      errors: bench.errors,
    };
    console.log(report(results));
    mkdirSync(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nwritten to ${path.relative(process.cwd(), file)}`);
    return bench.errors.length > 0 ? 1 : 0;
  } finally {
    await teardown();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error('bench failed:', err);
    process.exitCode = 1;
  },
);
