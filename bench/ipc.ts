/**
 * The benchmark's processes talk over Node's IPC channel: the orchestrator (run.ts) sends a
 * request with an id, the child (load generator, Monban target, bare oidc-provider) answers
 * with the same id. One small helper on each side.
 */
import { fork, type ChildProcess } from 'node:child_process';

export type Reply<T = unknown> = { id: number; result: T } | { id: number; error: string };

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** A forked child that answers requests. */
export class Child {
  readonly process: ChildProcess;
  readonly #pending = new Map<number, { resolve(r: never): void; reject(e: Error): void }>();
  #nextId = 1;

  constructor(
    readonly name: string,
    script: string,
    env: NodeJS.ProcessEnv = {},
    /** Node's flags for the child (none by default: not the orchestrator's own). */
    execArgv: string[] = [],
  ) {
    this.process = fork(script, [], {
      env: { ...process.env, ...env },
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.process.on('message', (raw) => {
      const message = raw as Reply;
      const waiter = this.#pending.get(message.id);
      if (!waiter) return;
      this.#pending.delete(message.id);
      if ('error' in message) waiter.reject(new Error(`${this.name}: ${message.error}`));
      else waiter.resolve(message.result as never);
    });
    // A send to a child that has gone away is reported by send's callback; do not crash on it.
    this.process.on('error', () => undefined);
    this.process.on('exit', (code, signal) => {
      for (const waiter of this.#pending.values())
        waiter.reject(new Error(`${this.name} exited (${signal ?? String(code)})`));
      this.#pending.clear();
    });
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  /** Sends `command` (an object with a `kind`) and resolves with the child's answer. */
  request<T>(command: object, timeoutMs: number): Promise<T> {
    const id = this.#nextId++;
    return withTimeout(
      new Promise<T>((resolve, reject) => {
        if (!this.process.connected) {
          reject(new Error(`${this.name} is gone`));
          return;
        }
        this.#pending.set(id, { resolve, reject });
        this.process.send({ ...command, id }, (err) => {
          if (!err) return;
          this.#pending.delete(id);
          reject(err);
        });
      }),
      timeoutMs,
      `${this.name} "${String((command as { kind?: unknown }).kind)}"`,
    );
  }

  /** Asks the child to leave, and kills it if it does not within a few seconds. */
  async close(): Promise<void> {
    const child = this.process;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (child.connected)
      child.send({ kind: 'exit', id: 0 }, (err) => {
        if (err) child.kill();
      });
    else child.kill();
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * The child's side: runs `handle` for each request and answers. `exit` runs `onExit` first.
 * The orchestrator going away ends the child too.
 */
export function serveRequests(
  handle: (command: { kind: string } & Record<string, unknown>) => Promise<unknown>,
  onExit: () => Promise<void> = () => Promise.resolve(),
): void {
  process.on('message', (raw) => {
    const command = raw as { kind: string; id: number } & Record<string, unknown>;
    if (command.kind === 'exit') {
      void onExit().finally(() => process.exit(0));
      return;
    }
    handle(command).then(
      (result) => process.send?.({ id: command.id, result } satisfies Reply),
      (err: unknown) =>
        process.send?.({ id: command.id, error: err instanceof Error ? err.message : String(err) } satisfies Reply),
    );
  });
  process.on('disconnect', () => void onExit().finally(() => process.exit(0)));
  // Ctrl-C reaches the whole process group; the orchestrator stops its children itself, in order.
  process.on('SIGINT', () => undefined);
}
