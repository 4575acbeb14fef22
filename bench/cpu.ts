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

function stat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
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

/** CPU milliseconds used so far by these processes and, with `children`, every descendant (cluster workers). */
export function cpuMs(pids: number[], { children = false } = {}): number {
  if (!cpuAvailable) return NaN;
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
  let total = 0;
  for (const pid of wanted) total += stat(pid)?.cpuMs ?? 0;
  return total;
}
