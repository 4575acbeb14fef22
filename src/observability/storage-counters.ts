/** What one process has sent to its stores so far. */
export interface StorageCounts {
  /** Statements sent to PostgreSQL (or PGlite), BEGIN and COMMIT included. */
  dbStatements: number;
  /** Commands sent to Redis (MULTI and EXEC included). */
  redisCommands: number;
  /** Times the process waited on Redis: a command alone, or a whole pipeline / MULTI block. */
  redisRoundTrips: number;
}

/**
 * Counts the statements and commands the app sends to PostgreSQL and Redis, where they leave
 * the process (src/db/counting-dialect.ts, src/redis/counting.ts). Always on: a count is an
 * integer increment. The benchmark divides them per login; tests assert the login's budget with
 * `measure`, which can also keep the text of each statement and command to say what went over.
 */
export class StorageCounters {
  dbStatements = 0;
  redisCommands = 0;
  redisRoundTrips = 0;
  #log: string[] | undefined;

  countStatement(sqlText: string): void {
    this.dbStatements += 1;
    this.#log?.push(`sql: ${sqlText.replace(/\s+/g, ' ').slice(0, 160)}`);
  }

  /** `newRoundTrip` is false for the second and later commands of a pipeline; `key` is the first argument. */
  countCommand(name: string, key: unknown, newRoundTrip: boolean): void {
    this.redisCommands += 1;
    if (newRoundTrip) this.redisRoundTrips += 1;
    this.#log?.push(`redis${newRoundTrip ? '' : ' +'}: ${name} ${describeArgument(key)}`.trimEnd());
  }

  snapshot(): StorageCounts {
    return {
      dbStatements: this.dbStatements,
      redisCommands: this.redisCommands,
      redisRoundTrips: this.redisRoundTrips,
    };
  }

  /** Counts what `work` (and anything else the process does meanwhile) sends, and lists it. */
  async measure<T>(work: () => Promise<T>): Promise<{ result: T; counts: StorageCounts; log: string[] }> {
    const before = this.snapshot();
    const log: string[] = [];
    const previous = this.#log;
    this.#log = log;
    try {
      const result = await work();
      return { result, counts: difference(this.snapshot(), before), log };
    } finally {
      this.#log = previous;
    }
  }
}

function describeArgument(arg: unknown): string {
  if (typeof arg === 'string' || typeof arg === 'number') return String(arg);
  if (Buffer.isBuffer(arg)) return arg.toString('utf8');
  return '';
}

export function difference(after: StorageCounts, before: StorageCounts): StorageCounts {
  return {
    dbStatements: after.dbStatements - before.dbStatements,
    redisCommands: after.redisCommands - before.redisCommands,
    redisRoundTrips: after.redisRoundTrips - before.redisRoundTrips,
  };
}
