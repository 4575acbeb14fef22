import cluster, { type Worker } from 'node:cluster';
import { containerMemoryLimit, WORKER_MEMORY_BYTES, workerV8Flags } from './config/worker-memory.js';
import type { Logger } from './logger.js';

/** A worker that dies this soon after starting is crashing at start: restarting it would only loop. */
const CRASH_AT_START_MS = 5000;
const RESTART_DELAY_MS = 1000;

/**
 * WEB_CONCURRENCY > 1: this process only forks `workers` copies of itself (node:cluster), which
 * share the listening port; each worker is a whole Monban (main.ts) with its own connections,
 * courier and shutdown. A worker that dies unexpectedly is replaced; one that dies while
 * starting stops everything (a bad configuration would otherwise restart forever).
 *
 * SIGTERM and SIGINT are passed on to every worker, which drains and stops as a single process
 * would; the primary exits once all of them have, with the worst exit code.
 */
export function runPrimary(workers: number, logger: Logger): void {
  let stopping: NodeJS.Signals | undefined;
  let exitCode = 0;
  const startedAt = new Map<Worker, number>();
  const listening = new Set<Worker>();

  const fork = () => {
    const worker = cluster.fork();
    startedAt.set(worker, Date.now());
    worker.once('listening', () => listening.add(worker));
  };

  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? 0);
    // A worker that never listened failed to start (bad config, schema behind), however slowly.
    const started = listening.delete(worker);
    startedAt.delete(worker);
    if (stopping) {
      // A worker still starting has no handler yet, so the forwarded signal ends it outright:
      // that is the stop that was asked for, not a failure (an orchestrator may stop a new pod).
      const endedByOurSignal = signal === stopping;
      if (code !== 0 && !endedByOurSignal) exitCode = Math.max(exitCode, code || 1);
      if (startedAt.size === 0) process.exit(exitCode);
      return;
    }
    if (!started || lived < CRASH_AT_START_MS) {
      exitCode = 1;
      logger.fatal({ pid: worker.process.pid, exitCode: code, signal }, 'a worker failed while starting; stopping');
      shutdown('SIGTERM');
      return;
    }
    logger.error({ pid: worker.process.pid, exitCode: code, signal }, 'a worker died; starting another');
    setTimeout(() => {
      if (!stopping) fork();
    }, RESTART_DELAY_MS);
  });

  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = signal;
    logger.info({ signal, workers: startedAt.size }, 'stopping the workers');
    if (startedAt.size === 0) process.exit(exitCode);
    for (const worker of startedAt.keys()) worker.process.kill(signal);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  const limit = containerMemoryLimit();
  const v8Flags = workerV8Flags(workers, { limit });
  cluster.setupPrimary({ execArgv: [...process.execArgv, ...v8Flags] });
  if (limit !== undefined && limit / workers < WORKER_MEMORY_BYTES) {
    logger.warn(
      { workers, memoryLimitMiB: Math.floor(limit / 2 ** 20), perWorkerMiB: Math.floor(limit / workers / 2 ** 20) },
      'WEB_CONCURRENCY leaves each worker less than 512 MiB of the memory limit: under load they may run out of heap',
    );
  }
  logger.info({ workers, v8Flags }, 'starting workers');
  for (let i = 0; i < workers; i += 1) fork();
}
