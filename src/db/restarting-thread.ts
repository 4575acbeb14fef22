import { connectionFailure, type PGliteThread } from './pglite-thread.js';

/** What the operator is told of the embedded database's thread ending and starting again. */
export interface ThreadRestarts {
  /** `retryInMs` when the thread had only just started: it is started again after that wait. */
  stopped(reason: Error, retryInMs?: number): void;
  restarted(): void;
  failed(err: Error, retryInMs: number): void;
}

const BEGINS = /^\s*(begin|start\s+transaction)\b/i;
// The end of the whole transaction, not `rollback to savepoint`.
const ENDS = /^\s*(commit|end|abort|rollback)\s*;?\s*$/i;
const COMMITS = /^\s*(commit|end)\b/i;

const FIRST_RETRY_MS = 1_000;
const LAST_RETRY_MS = 30_000;
/** A thread that lived this long before it died is started again at once, and the wait starts over. */
const STABLE_AFTER_MS = 60_000;

/**
 * The embedded database as a PostgreSQL server behaves when a backend crashes: the thread that
 * ended without being asked is started again on the same data directory (PostgreSQL's crash
 * recovery replays what was committed), after 1 s, 2 s, ... up to 30 s between attempts that
 * fail. Meanwhile statements wait for it, or fail as outages once an attempt has failed.
 * A thread that dies within a minute of its start counts as such a failure (a crash loop, say a
 * statement that kills it every time), as systemd and Kubernetes back off from a service that
 * keeps crashing: it is started again only after the wait, and each time it dies that soon the
 * wait doubles.
 *
 * A transaction the dead thread held is gone with it. The connection is one and the same for
 * Kysely, so its remaining statements must not run on the new thread, where each would commit
 * on its own: they fail as outages, and so does its COMMIT (its ROLLBACK has nothing left to do).
 *
 * Listeners are subscribed again on the new thread and told that NOTIFYs may have been missed
 * (called with undefined), as after a reconnection to a PostgreSQL server.
 */
export function restartingThread(
  first: PGliteThread,
  start: () => Promise<PGliteThread>,
  restarts: ThreadRestarts,
  { stableAfterMs = STABLE_AFTER_MS }: { stableAfterMs?: number } = {},
): PGliteThread {
  let current: PGliteThread | undefined = first;
  let startedAt = Date.now();
  let starting: Promise<void> | undefined;
  let lastFailure: Error | undefined;
  let retryAt = 0;
  let retryMs = FIRST_RETRY_MS;
  let inTransaction = false;
  let transactionLost = false;
  let closing = false;
  const listeners = new Map<string, ((payload: string | undefined) => void)[]>();
  let closed: (reason: Error) => void = () => {};
  const closedPromise = new Promise<Error>((resolve) => {
    closed = resolve;
  });

  /** Statements fail as outages with `failure` until the next start, `retryMs` from now, and the wait after it doubles. */
  const waitBeforeStarting = (failure: Error) => {
    lastFailure = failure;
    retryAt = Date.now() + retryMs;
    retryMs = Math.min(retryMs * 2, LAST_RETRY_MS);
  };

  const watch = (thread: PGliteThread) => {
    void thread.ended.then((reason) => {
      if (closing || thread !== current) return;
      current = undefined;
      if (inTransaction) transactionLost = true;
      inTransaction = false;
      if (Date.now() - startedAt >= stableAfterMs) {
        retryMs = FIRST_RETRY_MS;
        restarts.stopped(reason);
        void restart();
        return;
      }
      restarts.stopped(reason, retryMs);
      waitBeforeStarting(connectionFailure(`the embedded database stopped soon after it started: ${reason.message}`));
    });
  };

  const restart = (): Promise<void> =>
    (starting ??= (async () => {
      try {
        const thread = await start();
        for (const [channel, handlers] of listeners)
          for (const handler of handlers) await thread.listen(channel, handler);
        if (closing) {
          await thread.close();
          return;
        }
        current = thread;
        startedAt = Date.now();
        lastFailure = undefined;
        watch(thread);
        restarts.restarted();
        for (const handlers of listeners.values()) handlers.forEach((handler) => handler(undefined));
      } catch (err) {
        restarts.failed(err as Error, retryMs);
        waitBeforeStarting(
          connectionFailure(`the embedded database could not be started again: ${(err as Error).message}`),
        );
      } finally {
        starting = undefined;
      }
    })());

  const running = async (): Promise<PGliteThread> => {
    if (!current && !starting && Date.now() >= retryAt) void restart();
    if (starting) await starting;
    if (current) return current;
    throw lastFailure ?? connectionFailure('the embedded database is stopped');
  };

  watch(first);
  return {
    ended: closedPromise,
    async query(sql, params) {
      if (transactionLost) {
        if (!ENDS.test(sql)) throw connectionFailure('the embedded database stopped during this transaction');
        transactionLost = false;
        if (COMMITS.test(sql))
          throw connectionFailure('the embedded database stopped before this transaction committed');
        return { rows: [] };
      }
      const thread = await running();
      if (ENDS.test(sql)) inTransaction = false;
      const result = await thread.query(sql, params);
      // A thread that died as it answered BEGIN took the transaction with it.
      if (BEGINS.test(sql)) {
        if (thread === current) inTransaction = true;
        else transactionLost = true;
      }
      return result;
    },
    async listen(channel, handler) {
      const thread = await running();
      await thread.listen(channel, handler);
      listeners.set(channel, [...(listeners.get(channel) ?? []), handler]);
    },
    async close() {
      closing = true;
      if (starting) await starting;
      await current?.close();
      closed(connectionFailure('the embedded database was closed'));
    },
    async terminate() {
      await current?.terminate();
    },
  };
}
