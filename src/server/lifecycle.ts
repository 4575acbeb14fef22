import type { Logger } from '../logger.js';

export interface ShutdownOptions {
  logger: Logger;
  /** Drains and closes everything; resolves when the process may exit. */
  stop: (signal: NodeJS.Signals) => Promise<void>;
  /** After this long the process exits with 1 whatever `stop` is doing (a hung close must not keep it). */
  hardLimitMs: number;
  signals?: NodeJS.Signals[];
  /** Defaults to process.exit; a cluster primary or a test may do something else. */
  exit?: (code: number) => void;
}

const DUPLICATE_WINDOW_MS = 1000;

/**
 * One stop per process, on SIGTERM (orchestrators) or SIGINT (Ctrl-C): `stop` runs once; a second
 * signal while stopping (a second or more later) exits at once. This is the piece a cluster worker reuses as it is; the
 * primary forwards the signal to its workers and waits for them.
 */
export function stopOnSignals(options: ShutdownOptions): void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let stoppingSince = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppingSince) {
      // A cluster worker gets the signal twice when it went to the whole process group (Ctrl-C,
      // `timeout`): once from there and once forwarded by the primary. Only a later one forces.
      if (Date.now() - stoppingSince < DUPLICATE_WINDOW_MS) return;
      options.logger.warn({ signal }, 'second signal while stopping: exiting now');
      exit(1);
      return;
    }
    stoppingSince = Date.now();
    options.logger.info({ signal }, 'stopping: draining requests');
    const limit = setTimeout(() => {
      options.logger.error({ limitMs: options.hardLimitMs }, 'stop took too long: exiting');
      exit(1);
    }, options.hardLimitMs);
    limit.unref();
    options.stop(signal).then(
      () => {
        clearTimeout(limit);
        options.logger.info('stopped');
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(limit);
        options.logger.error({ err }, 'stop failed');
        exit(1);
      },
    );
  };
  for (const signal of options.signals ?? ['SIGTERM', 'SIGINT']) process.on(signal, onSignal);
}
