import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** libuv's own default, and its ceiling (uv_threadpool.c). */
const LIBUV_DEFAULT = 4;
const LIBUV_MAX = 1024;

/**
 * The threads of libuv's pool in this process: UV_THREADPOOL_SIZE as libuv reads it. The pool
 * runs bcrypt, and also every asynchronous crypto job (the signatures of ID tokens and JWT
 * access tokens: jose signs with WebCrypto), fs and dns.lookup (mail, Duo).
 */
export function threadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const size = Number.parseInt(env.UV_THREADPOOL_SIZE ?? '', 10);
  return Number.isInteger(size) && size > 0 ? Math.min(size, LIBUV_MAX) : LIBUV_DEFAULT;
}

/**
 * How many password hashes run at once: all of the pool's threads but one, which is always left
 * to the rest. Unbounded, a burst of logins fills the pool, and a token's signature waits for
 * the hashes queued before it (an ES256 signature, 1.4 ms alone, took 755 ms behind eight
 * bcrypt checks at cost 12 on a two-core machine).
 */
export function passwordHashSlots(env: NodeJS.ProcessEnv = process.env): number {
  return Math.max(1, threadpoolSize(env) - 1);
}

/** The threads of libuv's pool already running in this process (libuv names them), or 0 where /proc cannot tell. */
export function runningPoolThreads(): number {
  try {
    return readdirSync('/proc/self/task').filter(
      (task) => readFileSync(`/proc/self/task/${task}/comm`, 'utf8').trim() === 'libuv-worker',
    ).length;
  } catch {
    return 0;
  }
}

/**
 * UV_THREADPOOL_SIZE, unless the operator set it: libuv's 4 threads (or one per core, if there
 * are more) for password hashes, as many as hashed at once before they were bounded, plus the
 * thread left to the rest. libuv sizes its pool once, at its first use, so this runs before
 * anything uses it (cli/threadpool.ts, imported first by the server's entry point);
 * node:cluster's workers inherit it. A pool already running (tsx, compiling the sources, starts
 * it at libuv's 4) keeps its size, and the variable says that size, so the hashes still leave
 * one of its threads free.
 */
export function sizeThreadpool(
  env: NodeJS.ProcessEnv = process.env,
  cores = availableParallelism(),
  running = runningPoolThreads(),
): void {
  if (env.UV_THREADPOOL_SIZE !== undefined) return;
  env.UV_THREADPOOL_SIZE = String(running > 0 ? running : Math.max(LIBUV_DEFAULT, cores) + 1);
}
