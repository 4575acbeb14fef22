import { AppError } from '../../errors.js';
import type { AttemptCounters, Counter, GiveBack } from './attempt-counters.js';
import { limiterKey, type Limit } from './limiters.js';

export interface CredentialLimits {
  loginPerAccountAndIp: Limit;
  loginPerAccount: Limit;
  loginPerIp: Limit;
  loginPerDevice: Limit;
  accountLock: { failures: number; windowSeconds: number };
}

/**
 * What names an account to the counters: its id when the identifier typed names an account, else
 * the identifier, counted the same way.
 */
export function credentialSubject(account: { id: string } | undefined, identifier: string): string {
  return account ? `account:${account.id}` : `name:${identifier}`;
}

const counter = (key: string, limit: Limit): Counter => ({
  key,
  limit: limit.points,
  windowMs: limit.durationSeconds * 1000,
});

/** What one counted attempt took, to give back when the password was right. */
export interface CountedAttempt {
  readonly giveBack: GiveBack[];
  /** This attempt is the account's `accountLock.failures`-th in a row: if it is wrong, the account locks. */
  readonly reachesLock: boolean;
}

export interface AttemptOptions {
  /** The nonce of this browser's device cookie for the account, when it logged in to it before. */
  device?: string | undefined;
  /** The account is locked already (kept in PostgreSQL): nothing is checked. */
  locked?: boolean;
}

/**
 * The counters in front of every password check (OWASP ASVS 2.2.1, NIST 800-63B 5.2.2). The
 * attempt is counted on all of them before the password is checked, atomically, so parallel
 * guesses cannot get past a limit; a right password gives it back.
 *
 * - per IP: every attempt from it, whatever the account;
 * - per account and IP (tight) and per account from anywhere: for strangers' browsers. A browser
 *   with a device cookie for the account has its own small counter instead, so strangers using
 *   these up do not lock the owner out (OWASP device cookies);
 * - wrong passwords in a row for the account, from anywhere: at `accountLock.failures` the
 *   account locks (the caller keeps that in PostgreSQL and mails the owner an unlock link).
 *
 * `subject` (credentialSubject) names the account to the counters, so that an unknown address
 * is counted exactly like a known one and every place that checks the same account's password
 * draws from the same counters.
 */
export class CredentialThrottle {
  constructor(
    private readonly counters: AttemptCounters,
    private readonly limits: CredentialLimits,
  ) {}

  #keys(subject: string) {
    // The account's counters share one hash tag: one atomic script in Redis, also on a Cluster.
    const tag = `cred:{${limiterKey(subject)}}`;
    const { failures, windowSeconds } = this.limits.accountLock;
    return {
      pair: (ip: string) => counter(`${tag}:ip:${limiterKey(ip)}`, this.limits.loginPerAccountAndIp),
      account: counter(`${tag}:account`, this.limits.loginPerAccount),
      device: (nonce: string) => counter(`${tag}:device:${limiterKey(nonce)}`, this.limits.loginPerDevice),
      lock: counter(`${tag}:lock`, { points: failures, durationSeconds: windowSeconds }),
    };
  }

  /**
   * Counts the attempt, or throws and counts nothing for the account: TOO_MANY_ATTEMPTS (with
   * the minutes to wait) or ACCOUNT_LOCKED.
   */
  async begin(subject: string, ip: string, options: AttemptOptions = {}): Promise<CountedAttempt> {
    // Shared by every account and so apart (its own Redis slot); it counts every attempt from
    // the IP, also those the account's counters refuse.
    const perIp = counter(`cred:ip:${limiterKey(ip)}`, this.limits.loginPerIp);
    if (options.locked) {
      const ipResult = await this.counters.consume([perIp]);
      throw ipResult.allowed ? new AppError('ACCOUNT_LOCKED') : tooMany(ipResult.msBeforeNext);
    }

    const keys = this.#keys(subject);
    const browser = options.device ? keys.device(options.device) : keys.pair(ip);
    const group = options.device ? [browser, keys.lock] : [browser, keys.account, keys.lock];
    // The IP first, then the account's group (each atomically; one script on one Redis server).
    const result = await this.counters.consumeInTurn([[perIp], group]);
    if (!result.allowed) {
      if (result.group === 0) throw tooMany(result.msBeforeNext);
      throw group[result.refusedBy] === keys.lock ? new AppError('ACCOUNT_LOCKED') : tooMany(result.msBeforeNext);
    }
    return {
      reachesLock: (result.counts[1]?.at(-1) ?? 0) >= this.limits.accountLock.failures,
      giveBack: [
        { reset: [], refund: [perIp.key] },
        // A right password clears this browser's and this IP's count and the run of failures;
        // from the account's count it takes back only its own attempt (strangers' failures stay).
        { reset: [browser.key, keys.lock.key], refund: options.device ? [] : [keys.account.key] },
      ],
    };
  }

  async succeeded(attempt: CountedAttempt): Promise<void> {
    await this.counters.giveBack(...attempt.giveBack);
  }

  /** Unlocking an account: its run of failures and its count from anywhere start again. */
  async clear(subject: string): Promise<void> {
    const keys = this.#keys(subject);
    await this.counters.giveBack({ reset: [keys.account.key, keys.lock.key], refund: [] });
  }
}

function tooMany(msBeforeNext: number): AppError {
  return new AppError('TOO_MANY_ATTEMPTS', { minutes: Math.max(1, Math.ceil(msBeforeNext / 60_000)) });
}
