import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../../http/errors.js';
import { blockedFor, createLimiter, limiterKey, type Limit, type LimiterStore } from './limiters.js';

export interface LoginLimits {
  loginPerAccountAndIp: Limit;
  loginPerAccount: Limit;
  loginPerIp: Limit;
}

/**
 * Throttles password checks (OWASP ASVS 2.2.1): wrong passwords per address and IP, per address
 * from anywhere, and all attempts per IP. Unknown addresses are counted exactly like known ones,
 * so the throttle itself reveals nothing about which addresses have accounts.
 */
export class LoginThrottle {
  readonly #perAccountAndIp: RateLimiterAbstract;
  readonly #perAccount: RateLimiterAbstract;
  readonly #perIp: RateLimiterAbstract;

  constructor(store: LimiterStore, limits: LoginLimits) {
    this.#perAccountAndIp = createLimiter(store, 'login:account-ip', limits.loginPerAccountAndIp);
    this.#perAccount = createLimiter(store, 'login:account', limits.loginPerAccount);
    this.#perIp = createLimiter(store, 'login:ip', limits.loginPerIp);
  }

  /** Counts the attempt against the IP and throws TOO_MANY_ATTEMPTS if any counter is exhausted. */
  async begin(ip: string, email: string): Promise<void> {
    const waits = await Promise.all([
      blockedFor(this.#perAccountAndIp, limiterKey(email, ip)),
      blockedFor(this.#perAccount, limiterKey(email)),
      this.#perIp.consume(limiterKey(ip)).then(() => 0, (res: { msBeforeNext?: number }) => {
        if (res instanceof Error) throw res;
        return Math.max(res.msBeforeNext ?? 0, 1000);
      }),
    ]);
    const wait = Math.max(...waits);
    if (wait > 0) throw new AppError('TOO_MANY_ATTEMPTS', 429, { minutes: Math.ceil(wait / 60_000) });
  }

  async failed(ip: string, email: string): Promise<void> {
    await Promise.all([
      this.#perAccountAndIp.penalty(limiterKey(email, ip)),
      this.#perAccount.penalty(limiterKey(email)),
    ]);
  }

  /** A right password clears this browser's count for the address, not the global one. */
  async succeeded(ip: string, email: string): Promise<void> {
    await this.#perAccountAndIp.delete(limiterKey(email, ip));
  }
}
