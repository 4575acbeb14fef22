/** What the orchestrator (run.ts) asks of the load process (load.ts), and what it answers. */

/** A fixed HTTP request fired over and over by autocannon. */
export interface HttpPhase {
  kind: 'http';
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** A response counts as wrong (an error) unless its body contains this text. */
  bodyMustContain?: string;
  connections: number;
  seconds: number;
}

/**
 * Refresh-token grants with rotation: each connection holds one chain and always sends the
 * refresh token the previous answer gave it. A chain whose token is refused is dropped.
 */
export interface RefreshPhase {
  kind: 'refresh';
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The current token of each chain; the answer gives them back, rotated. */
  chains: string[];
  seconds: number;
}

/**
 * How a benchmark user proves who they are: the password, or a passkey alone (issue 17; enrolled
 * before the phase); 'bare' is the baseline provider's login, whose interaction finishes at once.
 */
export type LoginMethod = 'password' | 'passkey' | 'bare';

export interface LoginUser {
  email: string;
  password: string;
}

/** Complete logins through the hosted pages, ending with a code exchange at /token. */
export interface LoginPhase {
  kind: 'logins';
  method: LoginMethod;
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  users: LoginUser[];
  workers: number;
  seconds: number;
}

/** Logins that keep their tokens (offline_access), for the userinfo and refresh phases. */
export interface SeedRequest {
  kind: 'seed';
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  users: LoginUser[];
  count: number;
}

export type Command = HttpPhase | RefreshPhase | LoginPhase | SeedRequest;

export interface PhaseResult {
  /**
   * Completed operations (2xx answers with the right body, or whole logins) per second; for
   * logins, in their steady state (steady-rate.ts).
   */
  rate: number;
  /** Completed operations in the measured window (for logins, with the ramp and the drain). */
  completed: number;
  /** Length of the measured window, in seconds. */
  seconds: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  /** Connection errors, timeouts, wrong bodies, statuses outside 2xx, failed logins. */
  errors: number;
  /** Why operations failed, with counts, so a failing run says what went wrong. */
  failures: Record<string, number>;
  /** Refresh phases: the chains' tokens after the phase. */
  chains?: string[];
}

export interface SeedResult {
  accessTokens: string[];
  refreshTokens: string[];
}
