/**
 * One Monban under test, in a process of its own and from the built code (dist/). The
 * orchestrator (run.ts) passes its settings in BENCH_TARGET and asks over IPC:
 * - start: build the app as production does (createApp) and listen; with `setup`, also register
 *   the benchmark's client and users (the embedded database can only be reached from here).
 *   With webConcurrency > 1 this process is the cluster primary of src/cluster.ts and its
 *   workers (this same script) each build and serve the app;
 * - counters: PostgreSQL statements and Redis commands sent so far (the app's instrumentation);
 * - bcrypt: the bcrypt ceiling, password checks per second at the app's cost on the app's own
 *   libuv pool, with the same concurrency as the login phase;
 * - memory: the process's memory use;
 * - profile-start, profile-stop: a CPU profile of this process (V8's sampling profiler), written
 *   as a .cpuprofile file that Chrome DevTools opens (BENCH_PROFILE_DIR); with `heap`, a sampling
 *   heap profile instead (.heapprofile): where the bytes allocated meanwhile were allocated;
 * - steps-start, steps-stop: main-thread CPU per request step (steps.ts); with `arrivals`, each
 *   request's arrival too, for splitting a CPU profile by step (profile-steps.ts);
 * - gc: the main thread's garbage-collection pauses so far, in ms (V8's `gc` performance entries).
 */
import '../src/cli/threadpool.js';
import cluster from 'node:cluster';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { createClient } from '../src/admin/clients.js';
import { createApp, type App } from '../src/app.js';
import { runPrimary } from '../src/cluster.js';
import { loadConfig } from '../src/config/load.js';
import { updateAccount } from '../src/identity/accounts/repository.js';
import { createAccount } from '../src/identity/accounts/service.js';
import { createLogger } from '../src/logger.js';
import { serveRequests } from './ipc.js';
import { SteadyRate } from './steady-rate.js';
import { startRecordingSteps, stopRecordingSteps } from './steps.js';

export interface TargetSpec {
  port: number;
  /** Settings over config/default.json (NODE_ENV unset), as the orchestrator chose them. */
  overrides: Record<string, unknown>;
}

export interface TargetSetup {
  redirectUri: string;
  users: number;
  password: string;
}

export interface TargetStarted {
  port: number;
  pid: number;
  bcryptCost: number;
  client?: { clientId: string; clientSecret: string };
  users?: string[];
}

const spec = JSON.parse(process.env.BENCH_TARGET ?? '{}') as TargetSpec;
const config = loadConfig({ env: { ...process.env, NODE_ENV: undefined }, overrides: spec.overrides });
let app: App | undefined;
let profiler: { session: Session; heap: boolean } | undefined;

/**
 * Every pause the garbage collector makes the main thread take, summed: a scavenge, a
 * mark-compact's final pause (not the marking steps interleaved with JavaScript before it).
 */
let gcPausesMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPausesMs += entry.duration;
}).observe({ entryTypes: ['gc'] });

/** About one sample per this many bytes allocated (V8's default is 32 KiB). */
const HEAP_SAMPLING_BYTES = 4096;

async function startProfile(heap: boolean): Promise<void> {
  const session = new Session();
  session.connect();
  profiler = { session, heap };
  if (!heap) {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    return;
  }
  // Objects the garbage collector has freed since are counted too: the profile says where the
  // allocations were made, not what is still held.
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: HEAP_SAMPLING_BYTES,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
}

async function stopProfile(file: string): Promise<string> {
  if (!profiler) throw new Error('no profile was started');
  const { session, heap } = profiler;
  const { profile } = heap ? await session.post('HeapProfiler.stopSampling') : await session.post('Profiler.stop');
  session.disconnect();
  profiler = undefined;
  writeFileSync(file, JSON.stringify(profile));
  return file;
}

/** The cluster primary: forks the workers and answers once each of them listens. */
async function startWorkers(): Promise<TargetStarted> {
  runPrimary(config.webConcurrency, createLogger(config.logLevel));
  for (let listening = 0; listening < config.webConcurrency; listening += 1) await once(cluster, 'listening');
  return { port: spec.port, pid: process.pid, bcryptCost: config.bcryptCost };
}

async function start(setup: TargetSetup | undefined): Promise<TargetStarted> {
  if (config.webConcurrency > 1) return startWorkers();
  app = await createApp(config);
  const port = await app.listen(spec.port);
  const started: TargetStarted = { port, pid: process.pid, bcryptCost: config.bcryptCost };
  if (!setup) return started;
  const client = await createClient(app, {
    name: 'Monban benchmark RP',
    redirectUris: [setup.redirectUri],
    postLogoutRedirectUris: [],
    isPublic: false,
    extraGrants: ['client_credentials'],
  });
  if (!client.client_secret) throw new Error('the benchmark client was created without a secret');
  const users: string[] = [];
  for (let i = 0; i < setup.users; i += 1) {
    const account = await createAccount(app.db, app.hasher, app.policy, {
      email: `bench-${i}-${process.pid}@example.com`,
      password: setup.password,
      givenName: 'Taro',
      familyName: 'Bench',
      locale: 'en',
      status: 'active',
      emailVerified: true,
    });
    // The figure is a returning user's password login: one who has answered the passkey offer.
    await updateAccount(app.db, account.id, { passkey_prompt_never: true });
    users.push(account.email);
  }
  return { ...started, client: { clientId: client.client_id, clientSecret: client.client_secret }, users };
}

/** As many password checks as `concurrency` callers get through in `seconds`, on the app's hasher. */
async function bcryptCeiling(
  seconds: number,
  concurrency: number,
): Promise<{ checks: number; seconds: number; rate: number }> {
  if (!app) throw new Error('not started');
  const hasher = app.hasher;
  const hash = await hasher.hash('Bench-Ceiling-2026!');
  const began = performance.now();
  const deadline = began + seconds * 1000;
  const steady = new SteadyRate(concurrency, deadline);
  let checks = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, client) => {
      while (performance.now() < deadline) {
        if (!(await hasher.verify('Bench-Ceiling-2026!', hash))) throw new Error('bcrypt said no');
        checks += 1;
        steady.ended(client);
      }
    }),
  );
  const elapsed = (performance.now() - began) / 1000;
  return { checks, seconds: elapsed, rate: steady.rate(checks / elapsed) };
}

if (cluster.isWorker) {
  // A worker: the app, stopped by the primary's SIGTERM like a production worker.
  const worker = await createApp(config);
  await worker.listen(spec.port);
  process.once('SIGTERM', () => void worker.stop().finally(() => process.exit(0)));
} else {
  serveWhatIsAsked();
}

function serveWhatIsAsked(): void {
  serveRequests(
    async (command) => {
      switch (command.kind) {
        case 'start':
          return start(command.setup as TargetSetup | undefined);
        case 'counters':
          if (!app) throw new Error('not started');
          return app.counters.snapshot();
        case 'bcrypt':
          return bcryptCeiling(command.seconds as number, command.concurrency as number);
        case 'memory':
          return process.memoryUsage();
        case 'profile-start':
          return startProfile(command.heap === true);
        case 'profile-stop':
          return stopProfile(command.file as string);
        case 'steps-start':
          return startRecordingSteps({ arrivals: command.arrivals === true });
        case 'steps-stop':
          return stopRecordingSteps();
        case 'gc':
          return gcPausesMs;
        default:
          throw new Error(`unknown request ${command.kind}`);
      }
    },
    async () => {
      if (config.webConcurrency > 1) {
        process.kill(process.pid, 'SIGTERM'); // the primary stops its workers, then exits
        await new Promise(() => undefined);
      }
      await app?.stop();
    },
  );
}
