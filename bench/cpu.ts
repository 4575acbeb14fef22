/**
 * CPU time of processes, read from Linux's /proc (utime + stime of every thread, including
 * libuv's pool where bcrypt runs). Elsewhere the benchmark reports no CPU figures.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux the project runs on

interface Stat {
  pid: number;
  ppid: number;
  cpuMs: number;
}

function stat(pid: number, file = `/proc/${pid}/stat`): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields after it are counted from its end.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]);
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { pid, ppid, cpuMs: (ticks * 1000) / TICKS_PER_SECOND };
}

export const cpuAvailable = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

/** These processes and, with `children`, every descendant (cluster workers). */
function withDescendants(pids: number[], children: boolean): Set<number> {
  const wanted = new Set(pids);
  if (children) {
    const all = readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map((name) => stat(Number(name)))
      .filter((s): s is Stat => s !== undefined);
    let grew = true;
    while (grew) {
      grew = false;
      for (const s of all)
        if (wanted.has(s.ppid) && !wanted.has(s.pid)) {
          wanted.add(s.pid);
          grew = true;
        }
    }
  }
  return wanted;
}

/** CPU milliseconds used so far by these processes and, with `children`, every descendant (cluster workers). */
export function cpuMs(pids: number[], { children = false } = {}): number {
  if (!cpuAvailable) return NaN;
  let total = 0;
  for (const pid of withDescendants(pids, children)) total += stat(pid)?.cpuMs ?? 0;
  return total;
}

/** CPU milliseconds used so far by the threads of these processes that `wanted` picks by name and id. */
function threadsCpuMs(
  pids: number[],
  children: boolean,
  wanted: (thread: { name: string; tid: number; pid: number }) => boolean,
): number {
  if (!cpuAvailable) return NaN;
  let total = 0;
  for (const pid of withDescendants(pids, children)) {
    let threads: string[];
    try {
      threads = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of threads) {
      const task = `/proc/${pid}/task/${tid}`;
      let name: string;
      try {
        name = readFileSync(`${task}/comm`, 'utf8').trim();
      } catch {
        continue;
      }
      if (wanted({ name, tid: Number(tid), pid })) total += stat(Number(tid), `${task}/stat`)?.cpuMs ?? 0;
    }
  }
  return total;
}

/**
 * CPU milliseconds used so far by the threads of libuv's pool (named `libuv-worker`) in these
 * processes: where bcrypt hashes, apart from the main thread's JavaScript and V8's own threads.
 */
export function poolCpuMs(pids: number[], { children = false } = {}): number {
  return threadsCpuMs(pids, children, ({ name }) => name === 'libuv-worker');
}

/**
 * CPU milliseconds used so far by the main threads of these processes (the JavaScript, the event
 * loop and the system calls it makes), apart from libuv's pool and V8's helper threads (garbage
 * collection, compilation).
 */
export function mainThreadCpuMs(pids: number[], { children = false } = {}): number {
  return threadsCpuMs(pids, children, ({ tid, pid }) => tid === pid);
}

/**
 * How many times the main threads of these processes have gone to sleep and been woken so far
 * (Linux's voluntary context switches): each wake-up is a switch into caches that other threads
 * (bcrypt's, PostgreSQL's, Redis') have meanwhile used.
 */
export function mainThreadWakeUps(pids: number[], { children = false } = {}): number {
  if (!cpuAvailable) return NaN;
  let total = 0;
  for (const pid of withDescendants(pids, children)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
      total += Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(status)?.[1] ?? NaN);
    } catch {
      // the process has exited
    }
  }
  return total;
}

/** A process tree's CPU in all its threads, in libuv's pool and on its main threads, and their wake-ups. */
export interface ThreadReadings {
  cpuMs: number;
  poolCpuMs: number;
  mainThreadCpuMs: number;
  mainThreadWakeUps: number;
}

export function readThreads(pids: number[], options: { children?: boolean } = {}): ThreadReadings {
  return {
    cpuMs: cpuMs(pids, options),
    poolCpuMs: poolCpuMs(pids, options),
    mainThreadCpuMs: mainThreadCpuMs(pids, options),
    mainThreadWakeUps: mainThreadWakeUps(pids, options),
  };
}

/** What the same processes' threads used since `before` was read. */
export function threadsSince(
  before: ThreadReadings,
  pids: number[],
  options: { children?: boolean } = {},
): ThreadReadings {
  const now = readThreads(pids, options);
  return {
    cpuMs: now.cpuMs - before.cpuMs,
    poolCpuMs: now.poolCpuMs - before.poolCpuMs,
    mainThreadCpuMs: now.mainThreadCpuMs - before.mainThreadCpuMs,
    mainThreadWakeUps: now.mainThreadWakeUps - before.mainThreadWakeUps,
  };
}

type ThreadCpu = () => NodeJS.CpuUsage;
const threadCpu: ThreadCpu =
  (process as { threadCpuUsage?: ThreadCpu }).threadCpuUsage?.bind(process) ?? (() => process.cpuUsage());

/**
 * The calling thread's CPU so far (user + system), in µs: process.threadCpuUsage (Node >= 23.9)
 * reads the main thread alone, leaving out libuv's pool; before it, the whole process.
 */
export function threadCpuUs(): number {
  const { user, system } = threadCpu();
  return user + system;
}
