import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { consumeOrRefuse, createLimiter, limiterKey, type Limit, type LimiterStore } from './limiters.js';

export interface SecondFactorLimits {
  attemptsPerAccount: Limit;
  attemptsPerIp: Limit;
}

/**
 * Second-factor codes (TOTP, recovery codes) are counted apart from passwords (NIST 800-63B
 * 5.2.2). Every attempt is counted before the code is checked, so parallel guesses cannot slip
 * past the limit; a right code clears the account's count.
 */
export class SecondFactorThrottle {
  readonly #perAccount: RateLimiterAbstract;
  readonly #perIp: RateLimiterAbstract;

  /** `name` keeps apart counters of another kind of check (passkey sign-ins: 'passkey'). */
  constructor(store: LimiterStore, limits: SecondFactorLimits, name = 'mfa') {
    this.#perAccount = createLimiter(store, `${name}:account`, limits.attemptsPerAccount);
    this.#perIp = createLimiter(store, `${name}:ip`, limits.attemptsPerIp);
  }

  /** Throws TOO_MANY_ATTEMPTS when the account or the IP has used up its attempts. */
  async begin(accountId: string, ip: string): Promise<void> {
    await consumeOrRefuse(this.#perIp, limiterKey(ip));
    await consumeOrRefuse(this.#perAccount, limiterKey(accountId));
  }

  async succeeded(accountId: string): Promise<void> {
    await this.#perAccount.delete(limiterKey(accountId));
  }
}
