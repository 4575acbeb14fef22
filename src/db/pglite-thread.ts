import { Worker } from 'node:worker_threads';

/**
 * The embedded database (PGlite) on a thread of its own. PGlite is PostgreSQL compiled to
 * WebAssembly: on the event loop's thread, every statement stopped all HTTP traffic while it ran,
 * and a request's CPU and the database's shared one core. On its own thread the statements run
 * beside the requests, as a PostgreSQL server's would, and a long one (an admin's report) no
 * longer holds up the login pages. kysely-pglite-dialect needs only `query` and `close`; it sends
 * one statement at a time, in order, and so does this.
 */
export interface PGliteThread {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[]; affectedRows?: number }>;
  /**
   * Calls `handler` with the payload of every NOTIFY on `channel`, from the next statement on
   * (with undefined when some may have been missed: restarting-thread.ts).
   */
  listen(channel: string, handler: (payload: string | undefined) => void): Promise<void>;
  close(): Promise<void>;
  /** Stops the thread at once, without PGlite's orderly close: what a crash does. */
  terminate(): Promise<void>;
  /** Settles with why once the thread has ended, whether asked to or not. */
  readonly ended: Promise<Error>;
}

type Answer =
  | { id: number; result: unknown }
  | { id: number; error: Record<string, unknown> }
  | { channel: string; payload: string };

type Started = { started: true } | { started: false; error: Record<string, unknown> };

/** An error as PGlite's thread described it: its message, SQLSTATE `code`, `constraint` and the rest. */
function rebuildError(fields: Record<string, unknown>): Error {
  const message = typeof fields.message === 'string' ? fields.message : 'embedded database error';
  return Object.assign(new Error(message), fields);
}

/**
 * A statement that cannot run because the embedded database's thread is gone or not started: as
 * on a PostgreSQL server gone away (SQLSTATE 08006, connection_failure), so that requests fail
 * closed with 503.
 */
export function connectionFailure(message: string): Error {
  return Object.assign(new Error(message), { code: '08006' });
}

/** The thread ended without being asked: every statement fails from now on. */
function threadGone(reason: string): Error {
  return connectionFailure(`the embedded database stopped: ${reason}`);
}

/** The worker file next to this one: built JavaScript, or TypeScript where the tests run the sources. */
function workerFile(): URL {
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return new URL(`./pglite-thread-worker.${extension}`, import.meta.url);
}

/**
 * Starts PGlite on `location` (a data directory, or 'memory://', then optionally from `dump`,
 * a dump of a data directory) on its own thread. Rejects if it cannot open it.
 */
export async function startPGliteThread(location: string, dump?: Blob): Promise<PGliteThread> {
  const worker = new Worker(workerFile(), {
    workerData: { location, ...(dump ? { dump: new Uint8Array(await dump.arrayBuffer()) } : {}) },
  });
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  const listeners = new Map<string, ((payload: string | undefined) => void)[]>();
  const subscriptions = new Map<string, Promise<undefined>>();
  let nextId = 0;
  let gone: Error | undefined;
  let closing = false;

  let started: { resolve: () => void; reject: (err: Error) => void } | undefined;
  const starting = new Promise<void>((resolve, reject) => {
    started = { resolve, reject };
  });
  let ended: (reason: Error) => void = () => {};
  const endedPromise = new Promise<Error>((resolve) => {
    ended = resolve;
  });
  const stop = (err: Error) => {
    gone ??= err;
    ended(gone);
    started?.reject(gone);
    for (const caller of waiting.values()) caller.reject(gone);
    waiting.clear();
  };
  worker.on('message', (message: Answer | Started) => {
    if ('started' in message) {
      if (message.started) started?.resolve();
      else stop(rebuildError(message.error));
      started = undefined;
    } else if ('channel' in message) {
      for (const handler of listeners.get(message.channel) ?? []) handler(message.payload);
    } else {
      const caller = waiting.get(message.id);
      waiting.delete(message.id);
      if ('error' in message) caller?.reject(rebuildError(message.error));
      else caller?.resolve(message.result);
    }
  });
  worker.on('error', (err: Error) => stop(threadGone(err.message)));
  worker.on('exit', (code) => stop(threadGone(closing ? 'closed' : `exit code ${code}`)));
  await starting;

  const ask = <T>(request: Record<string, unknown>): Promise<T> => {
    if (gone) return Promise.reject(gone);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      waiting.set(id, { resolve: (value) => resolve(value as T), reject });
      try {
        worker.postMessage({ ...request, id });
      } catch (err) {
        // A parameter that cannot be copied to the thread (a function, say).
        waiting.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  };

  return {
    ended: endedPromise,
    query: (sql, params = []) => ask({ op: 'query', sql, params }),
    async listen(channel, handler) {
      const handlers = listeners.get(channel);
      if (handlers) handlers.push(handler);
      else listeners.set(channel, [handler]);
      // A second listener on a channel waits for the first one's LISTEN, so that it too hears
      // every NOTIFY from the next statement on.
      let subscribed = subscriptions.get(channel);
      if (!subscribed) {
        subscribed = ask<undefined>({ op: 'listen', channel });
        subscriptions.set(channel, subscribed);
        subscribed.catch(() => subscriptions.delete(channel));
      }
      await subscribed;
    },
    async close() {
      if (gone) return;
      closing = true;
      try {
        await ask({ op: 'close' });
      } finally {
        await worker.terminate();
      }
    },
    async terminate() {
      await worker.terminate();
    },
  };
}
