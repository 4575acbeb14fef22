import { AppError } from '../../errors.js';
import type { AttemptCounters, Counter } from './attempt-counters.js';
import { limiterKey, type Limit } from './limiters.js';

export interface SendCapLimits {
  /** Codes sent for one address to browsers that never logged in to its account; and to each one that did. */
  perBrowser: Limit;
  /** Codes sent for one address in all, whoever asks: the bound on mails the owner can be sent. */
  ceiling: Limit;
}

const counter = (key: string, limit: Limit): Counter => ({
  key,
  limit: limit.points,
  windowMs: limit.durationSeconds * 1000,
});

/**
 * The cap on codes sent for one address (issue 11 item 3): a cap shared by everyone would let
 * strangers use it up and lock the owner out of their own reset. So strangers' browsers share one
 * counter per address, a browser that logged in to the account before (its device cookie, as for
 * passwords: OWASP "Slow Down Online Guessing Attacks with Device Cookies") has one of its own, and
 * a higher ceiling over all of them bounds how many mails the address can be sent (mail bombing).
 * Strangers reach at most their own cap of the ceiling, so the ceiling leaves the owner room.
 * Both counters are counted at once, atomically and before anything is sent, so parallel requests
 * get no further than the caps.
 */
export class SendCap {
  constructor(
    private readonly counters: AttemptCounters,
    private readonly name: string,
    private readonly limits: SendCapLimits,
  ) {}

  /**
   * Counts one code sent for `address`, from the browser whose device nonce for the account is
   * `device` (none: a stranger's browser), or throws TOO_MANY_ATTEMPTS and counts nothing.
   */
  async admit(address: string, options: { device?: string | undefined } = {}): Promise<void> {
    // One hash tag per address: both counters in one atomic script, also on a Redis Cluster.
    const tag = `send:${this.name}:{${limiterKey(address)}}`;
    const browser = options.device ? `${tag}:device:${limiterKey(options.device)}` : `${tag}:strangers`;
    const result = await this.counters.consume([
      counter(browser, this.limits.perBrowser),
      counter(`${tag}:all`, this.limits.ceiling),
    ]);
    if (!result.allowed) {
      throw new AppError('TOO_MANY_ATTEMPTS', { minutes: Math.max(1, Math.ceil(result.msBeforeNext / 60_000)) });
    }
  }
}
