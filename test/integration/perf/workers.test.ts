import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../helpers/app.js';
import { createScratchDatabase } from '../../helpers/databases.js';
import { TEST_REDIS_URL, TEST_SECRET } from '../../helpers/env.js';
import { jest } from '@jest/globals';

// Process restarts on a loaded 2-core machine are timing-sensitive (a proxy health round, a
// worker's start): one retry, with the first attempt's errors printed, keeps a rare scheduling
// miss from failing CI while a real regression still fails both attempts.
jest.retryTimes(1, { logErrorsBeforeRetry: true });

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The processes a primary has forked, from Linux's /proc. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/**
 * A new memory cgroup (v1) of `limit` bytes under this process's own, as a container's
 * `--memory` makes one; undefined where this machine lets the tests make none (not root, no
 * cgroup v1 memory controller).
 */
function memoryCgroup(limit: number): { path: string; remove(): void } | undefined {
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((entry) => entry.split(':')[1] === 'memory');
  if (!line) return undefined;
  const path = `/sys/fs/cgroup/memory${line.split(':')[2]}/monban-test-${process.pid}`.replace('//', '/');
  try {
    mkdirSync(path);
    writeFileSync(`${path}/memory.limit_in_bytes`, String(limit));
  } catch {
    return undefined;
  }
  return { path, remove: () => rmdirSync(path) };
}

/** The command line a process was started with, from Linux's /proc. */
const commandLine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

/** WEB_CONCURRENCY: `npm start` as an operator runs it, with N workers sharing one port. */
describe('workers (WEB_CONCURRENCY)', () => {
  /** The primary a test started, stopped after it if the test did not. */
  let running: ChildProcess | undefined;
  let port: number;
  let log = '';
  let env: NodeJS.ProcessEnv;
  let drop: () => Promise<void>;
  const exited = (primary: ChildProcess) =>
    new Promise<number | null>((resolve) => primary.once('exit', (code) => resolve(code)));

  /** `npm start`'s process: the primary, whose output collects in `log`; in `cgroup`, as in a container. */
  const startPrimary = (cgroup?: string): ChildProcess => {
    log = '';
    const node = [process.execPath, '--import', 'tsx', 'src/main.ts'];
    const [command, ...args] = cgroup
      ? ['sh', '-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$@"`, 'sh', ...node]
      : node;
    const primary = spawn(command!, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer) => {
      log += chunk.toString();
    };
    primary.stdout.on('data', collect);
    primary.stderr.on('data', collect);
    running = primary;
    return primary;
  };

  beforeAll(async () => {
    const scratch = await createScratchDatabase();
    drop = () => scratch.drop();
    port = await freePort();
    env = {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      PORT: String(port),
      DATABASE_URL: scratch.url,
      REDIS_URL: TEST_REDIS_URL,
      MONBAN_SECRET: TEST_SECRET,
      WEB_CONCURRENCY: '2',
    };
    delete env.NODE_OPTIONS;
  });

  afterEach(async () => {
    if (running && running.exitCode === null && running.signalCode === null) {
      const gone = exited(running);
      const workers = childrenOf(running.pid!);
      running.kill('SIGKILL');
      for (const pid of workers) process.kill(pid, 'SIGKILL');
      await gone;
    }
  });

  afterAll(() => drop());

  it('serves from two processes, replaces a worker that dies, and stops them all on SIGTERM', async () => {
    const primary = startPrimary();
    const listening = () => (log.match(/Monban is listening/g) ?? []).length;
    await waitFor('two workers listening', () => (listening() >= 2 ? true : undefined));
    const workers = childrenOf(primary.pid!);
    expect(workers).toHaveLength(2);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);

    // A worker that dies within CRASH_AT_START_MS of its start is a failed start (the primary
    // stops, rather than restart a crash loop): let the worker live past it before killing it.
    await sleep(5500); // src/cluster.ts: CRASH_AT_START_MS is 5000
    process.kill(workers[0]!, 'SIGKILL');
    await waitFor('a replacement worker', () => (listening() >= 3 ? true : undefined));
    const replaced = childrenOf(primary.pid!);
    expect(replaced).toHaveLength(2);
    expect(replaced).not.toContain(workers[0]);
    expect(log).toMatch(/a worker died; starting another/);
    expect((await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).status).toBe(200);

    const gone = exited(primary);
    primary.kill('SIGTERM');
    expect(await gone).toBe(0);
    for (const pid of replaced) expect(() => process.kill(pid, 0)).toThrow();
  }, 180_000); // three processes compile the TypeScript on start

  it('exits 0 when SIGTERM comes while the workers are still starting', async () => {
    const primary = startPrimary();
    await waitFor('the primary forking', () => (/starting workers/.test(log) ? true : undefined));
    await waitFor('two workers', () => (childrenOf(primary.pid!).length === 2 ? true : undefined));
    const workers = childrenOf(primary.pid!);
    expect(log).not.toMatch(/Monban is listening/); // they compile TypeScript for seconds first
    const gone = exited(primary);
    primary.kill('SIGTERM');
    expect(await gone).toBe(0);
    expect(log).not.toMatch(/failed while starting/);
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
  }, 60_000);

  const cgroup = memoryCgroup(2 ** 30);
  afterAll(() =>
    // Once afterEach has stopped every process in it (a cgroup with tasks cannot be removed).
    waitFor('the test cgroup removed', () => {
      try {
        cgroup?.remove();
        return true;
      } catch {
        return undefined;
      }
    }),
  );

  (cgroup ? it : it.skip)(
    'in a container with a memory limit, gives each worker half its share as heap and a 16 MiB young generation',
    async () => {
      const primary = startPrimary(cgroup!.path);
      await waitFor('two workers', () => (childrenOf(primary.pid!).length === 2 ? true : undefined));
      // 1 GiB for two workers: 512 MiB each, half of it for the old generation (src/config/worker-memory.ts).
      for (const pid of childrenOf(primary.pid!)) {
        expect(commandLine(pid)).toEqual(
          expect.arrayContaining(['--max-old-space-size=256', '--max-semi-space-size=16']),
        );
      }
      expect(commandLine(primary.pid!).join(' ')).not.toMatch(/--max-old-space-size/);
      expect(log).not.toMatch(/less than 512 MiB/);
      const gone = exited(primary);
      primary.kill('SIGTERM');
      expect(await gone).toBe(0);
    },
    60_000,
  );
});
