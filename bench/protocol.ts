/** Messages between the benchmark's orchestrator (bench/run.ts, hosts the app) and its load process (bench/load.ts). */

/** A fixed HTTP request fired over and over by autocannon. */
export interface HttpPhase {
  kind: 'http';
  id: number;
  name: string;
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** A response counts as wrong (an error) unless its body contains this text. */
  bodyMustContain?: string;
  connections: number;
  seconds: number;
  warmupSeconds: number;
}

/** Complete logins through the hosted pages, ending with a code exchange at /token. */
export interface LoginPhase {
  kind: 'logins';
  id: number;
  name: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  users: { email: string; password: string }[];
  workers: number;
  seconds: number;
  warmupSeconds: number;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A phase as the orchestrator describes it; the id is added when it is sent. */
export type PhaseCommand = DistributiveOmit<HttpPhase | LoginPhase, 'id'>;

export type Command = HttpPhase | LoginPhase | { kind: 'exit' };

export interface PhaseResult {
  name: string;
  unit: 'req/s' | 'logins/s';
  /** Completed operations (responses, or logins with a successful code exchange) per second. */
  rate: number;
  /** Completed operations in the measured window. */
  completed: number;
  /** Length of the measured window, in seconds. */
  seconds: number;
  concurrency: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  /** Connection errors, timeouts, exceptions, wrong bodies, failed logins (warm-up included). */
  errors: number;
  /** Responses with a status outside 2xx (warm-up included); undefined where it does not apply. */
  non2xx: number | undefined;
  /** Why operations failed, with counts, so a failing run says what went wrong. */
  failures: Record<string, number>;
}

export type Reply = { id: number; result: PhaseResult } | { id: number; error: string };
