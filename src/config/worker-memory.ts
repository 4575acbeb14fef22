import { availableParallelism, totalmem } from 'node:os';

/**
 * What one Monban process is given in a container. Under `npm run bench` (README, "Memory"), a
 * process in a cgroup of 512 MiB held about 280 MB RSS through every phase, at the speed of one
 * without a limit, once V8's young generation was kept at 16 MiB (see workerV8Flags).
 */
export const WORKER_MEMORY_BYTES = 512 * 2 ** 20;

/** The young generation's semi-space, in MiB, that V8 would otherwise shrink to 1 or 2 MiB under a small limit. */
const SEMI_SPACE_MIB = 16;

/**
 * The memory limit of this process's cgroup (a container's `--memory`, a systemd MemoryMax),
 * when one is set below the machine's memory; undefined without one (libuv then reports 0, or a
 * huge number for a cgroup whose limit is "max").
 */
export function containerMemoryLimit(
  constrained = process.constrainedMemory(),
  total = totalmem(),
): number | undefined {
  return constrained > 0 && constrained < total ? constrained : undefined;
}

/**
 * WEB_CONCURRENCY's production default: one worker per core, but no more than the memory limit
 * gives WORKER_MEMORY_BYTES each, and at least one. Each worker sizes its V8 heap from the
 * container's whole limit, so a worker per core of a large host in a small container would
 * together outgrow it and be killed.
 */
export function defaultWorkerCount(cores = availableParallelism(), limit = containerMemoryLimit()): number {
  if (limit === undefined) return cores;
  return Math.max(1, Math.min(cores, Math.floor(limit / WORKER_MEMORY_BYTES)));
}

/**
 * The V8 flags each of `workers` processes starts with under a container's memory limit: half of
 * its share of the limit for the old generation (as Node gives a single process half of the
 * limit), and a 16 MiB young generation. Under a limit V8 shrinks the young generation to 1 or 2
 * MiB, many of a request's objects outlive it, and a token cost 1.26 and 1.78 times the bare
 * library's CPU in two benchmark runs, against 1.11 to 1.20 without a limit. Flags the operator already set (the process's own
 * or NODE_OPTIONS) are kept, not repeated. No limit: no flags.
 */
export function workerV8Flags(
  workers: number,
  { limit = containerMemoryLimit(), given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ') } = {},
): string[] {
  if (limit === undefined) return [];
  // V8 reads --max_old_space_size and --max-old-space-size alike.
  const set = (flag: string) => given.replaceAll('_', '-').includes(flag);
  const flags: string[] = [];
  if (!set('--max-old-space-size')) {
    flags.push(`--max-old-space-size=${Math.floor(limit / workers / 2 / 2 ** 20)}`);
  }
  if (!set('--max-semi-space-size')) flags.push(`--max-semi-space-size=${SEMI_SPACE_MIB}`);
  return flags;
}
