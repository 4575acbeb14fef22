import { parsePhoneNumber } from 'libphonenumber-js/max';
import { AppError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { smsRefused } from '../../observability/metrics.js';
import type { AttemptCounters, Counter } from './attempt-counters.js';
import { limiterKey, type Limit } from './limiters.js';

export interface SmsCapSettings {
  /** ISO 3166 codes of the countries texts may go to; any other destination is refused. */
  allowedCountries: readonly string[];
  perIp: Limit;
  perCallingCode: Limit;
  global: Limit;
}

const counter = (key: string, limit: Limit): Counter => ({
  key,
  limit: limit.points,
  windowMs: limit.durationSeconds * 1000,
});

// Which cap a refusal came from, in the order the counters are given.
const CAPS = ['ip', 'calling_code', 'global'] as const;

/** At most one alert line per process in this long while the global cap refuses. */
const ALERT_EVERY_MS = 60_000;

/**
 * Caps in front of every text message Monban sends, against SMS pumping (toll fraud: an attacker
 * makes a service text premium numbers that pay them per message). A destination must be in an
 * allowed country; then one text is counted, atomically and before anything is sent, against
 * the requesting IP, the destination's country calling code and the whole installation: if any
 * of the three is used up, nothing is counted and nothing is sent. A tripped global cap is
 * counted in monban_sms_refused_total{cap="global"} and logged at error level.
 */
export class SmsCaps {
  #lastAlert = 0;

  constructor(
    private readonly counters: AttemptCounters,
    private readonly settings: SmsCapSettings,
    private readonly logger: Logger,
  ) {}

  /** Whether texts may go to `e164`'s country (throws PHONE_COUNTRY_NOT_ALLOWED if not). */
  checkDestination(e164: string): { country: string | undefined; callingCode: string } {
    const phone = parsePhoneNumber(e164);
    if (!phone.country || !this.settings.allowedCountries.includes(phone.country)) {
      smsRefused.inc({ cap: 'country_not_allowed' });
      throw new AppError('PHONE_COUNTRY_NOT_ALLOWED');
    }
    return { country: phone.country, callingCode: phone.countryCallingCode };
  }

  /**
   * Counts one text to `e164` requested from `ip`, or throws: PHONE_COUNTRY_NOT_ALLOWED,
   * TOO_MANY_ATTEMPTS (this IP; 429) or SMS_UNAVAILABLE (the calling code's or the global cap; 503).
   */
  async admit(ip: string, e164: string): Promise<void> {
    const { callingCode } = this.checkDestination(e164);
    // One hash tag for the three: one atomic script in Redis, also on a Cluster.
    const result = await this.counters.consume([
      counter(`sms:{caps}:ip:${limiterKey(ip)}`, this.settings.perIp),
      counter(`sms:{caps}:cc:${callingCode}`, this.settings.perCallingCode),
      counter('sms:{caps}:global', this.settings.global),
    ]);
    if (result.allowed) return;
    const cap = CAPS[result.refusedBy] ?? 'global';
    smsRefused.inc({ cap });
    if (cap === 'ip') {
      throw new AppError('TOO_MANY_ATTEMPTS', { minutes: Math.max(1, Math.ceil(result.msBeforeNext / 60_000)) });
    }
    if (cap === 'global') this.#alert(result.msBeforeNext);
    else this.logger.warn({ callingCode }, 'SMS cap for a country calling code reached: texts to it are refused');
    throw new AppError('SMS_UNAVAILABLE');
  }

  #alert(msBeforeNext: number): void {
    const now = Date.now();
    if (now - this.#lastAlert < ALERT_EVERY_MS) return;
    this.#lastAlert = now;
    this.logger.error(
      { limit: this.settings.global.points, windowSeconds: this.settings.global.durationSeconds, msBeforeNext },
      'ALERT: the global SMS cap is reached; no text message is sent until its window closes (SMS pumping?)',
    );
  }
}
