import { AppError } from '../../errors.js';
import type { AttemptCounters, Counter } from './attempt-counters.js';
import { limiterKey, type Limit } from './limiters.js';

/**
 * What names the account a one-time code is for: its id when the flow has one, else the address
 * the flow is for (an address without an account, or one being registered), counted the same way
 * so that the counters tell nothing about which addresses have accounts.
 */
export function codeSubject(accountId: string | null | undefined, email: string): string {
  return accountId ? `account:${accountId}` : `address:${email}`;
}

/** One counted code attempt, to give back when the code was right. */
export interface CountedCode {
  readonly key: string;
}

/**
 * The daily cap on wrong one-time codes (activation, reset by mail or SMS, phone verification)
 * for one account, whatever flow, address or browser they come from (issue 11 item 14): each
 * flow's code allows `codes.maxAttempts` tries, but new codes can be asked for, so without this
 * a guesser gets about 600 tries a day per address. The attempt is counted before the code is
 * checked, atomically, so 50 parallel guesses get no further than the cap; a right code gives
 * its attempt back, so only wrong ones stay counted.
 *
 * A browser that logged in to the account before (its device cookie, as for passwords) has a
 * counter of its own with the same cap, so a stranger using up the account's cap does not stop
 * the owner's own reset in such a browser.
 */
export class CodeThrottle {
  constructor(
    private readonly counters: AttemptCounters,
    private readonly perAccount: Limit,
  ) {}

  /** Counts one attempt, or throws TOO_MANY_ATTEMPTS (with the minutes to wait) and counts nothing. */
  async begin(subject: string, options: { device?: string | undefined } = {}): Promise<CountedCode> {
    const tag = `code:{${limiterKey(subject)}}`;
    const counter: Counter = {
      key: options.device ? `${tag}:device:${limiterKey(options.device)}` : `${tag}:account`,
      limit: this.perAccount.points,
      windowMs: this.perAccount.durationSeconds * 1000,
    };
    const result = await this.counters.consume([counter]);
    if (!result.allowed) {
      throw new AppError('TOO_MANY_ATTEMPTS', { minutes: Math.max(1, Math.ceil(result.msBeforeNext / 60_000)) });
    }
    return { key: counter.key };
  }

  /** The code was right: its attempt is not a wrong one. */
  async succeeded(counted: CountedCode): Promise<void> {
    await this.counters.giveBack({ reset: [], refund: [counted.key] });
  }
}
