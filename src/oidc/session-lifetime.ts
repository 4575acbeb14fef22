/**
 * How long a signed-in session lives (issue 11 item 12; NIST SP 800-63B-3 4.1.3 and 4.2.3:
 * reauthentication after a fixed time regardless of activity, and after a period of inactivity).
 *
 * - Absolute: `absoluteSeconds` after the session's last login (oidc-provider's `loginTs`, set
 *   again by every login in the session, e.g. a step-up to MFA). The stored session and its
 *   cookie expire then, and use does not extend it.
 * - Idle: `idleSeconds` without use. The clock is the session's `last_seen_at` in PostgreSQL
 *   (account_sessions), which the session index reads anyway; it is moved forward at most every
 *   `touchSeconds`, so using a session costs no extra Redis command and rarely a write.
 */
export interface SessionLifetime {
  idleSeconds: number;
  absoluteSeconds: number;
}

/** The lifetime the configuration sets (`ttl.session`, `ttl.sessionIdle`). */
export function sessionLifetime(config: { ttl: { session: number; sessionIdle: number } }): SessionLifetime {
  return { idleSeconds: config.ttl.sessionIdle, absoluteSeconds: config.ttl.session };
}

const epoch = (): number => Math.floor(Date.now() / 1000);

/** What the lifetime reads of a stored session. */
interface SessionTimes {
  accountId?: unknown;
  loginTs?: unknown;
  exp?: unknown;
}

/** Seconds to store a session for: the rest of its absolute lifetime once signed in, else the idle time. */
export function sessionTtl(lifetime: SessionLifetime, session: SessionTimes, now = epoch()): number {
  if (!session.accountId || typeof session.loginTs !== 'number') return lifetime.idleSeconds;
  return Math.max(1, session.loginTs + lifetime.absoluteSeconds - now);
}

/**
 * Whether a stored signed-in session is past its absolute lifetime or its stored expiry. Checked
 * here rather than left to oidc-provider, which accepts an expiry up to its 15 s clock tolerance
 * late, and so that sessions stored before the limit existed (with a longer expiry) end too.
 */
export function pastAbsoluteLifetime(lifetime: SessionLifetime, session: SessionTimes, now = epoch()): boolean {
  if (typeof session.exp === 'number' && session.exp <= now) return true;
  return typeof session.loginTs === 'number' && session.loginTs + lifetime.absoluteSeconds <= now;
}

/** How stale `last_seen_at` may be before a use moves it: a tenth of the idle time, at most a minute. */
export function touchSeconds(lifetime: SessionLifetime): number {
  return Math.min(60, lifetime.idleSeconds / 10);
}

/** How long a process may trust a session it has just checked without asking PostgreSQL again. */
export function trustMilliseconds(lifetime: SessionLifetime, defaultMs = 5_000): number {
  return Math.min(defaultMs, (lifetime.idleSeconds * 1000) / 10);
}
