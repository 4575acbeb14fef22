import Provider, { errors } from 'oidc-provider';
import { AppError } from '../../errors.js';
import type { AttemptCounters, Counter } from '../../security/rate-limit/attempt-counters.js';
import { limiterKey, type Limit } from '../../security/rate-limit/limiters.js';

export interface DeviceFlowLimits {
  /** The `interval` (RFC 8628 3.2) a device must leave between two polls of the token endpoint. */
  pollIntervalSeconds: number;
  /** User code submissions from one client IP. */
  perIp: Limit;
  /** Submissions of one user code, from anywhere. */
  perCode: Limit;
}

const windowOf = (limit: Limit): number => limit.durationSeconds * 1000;

/**
 * The device flow's two guards (RFC 8628 5.1, 5.2): user codes are short enough to guess, so each
 * submitted code counts against its IP and against the code before it is looked up, atomically
 * (50 parallel submissions get no further than the limit); and a device polling faster than its
 * interval is told slow_down (section 3.5).
 */
export class DeviceFlowGuard {
  constructor(
    private readonly counters: AttemptCounters,
    private readonly limits: DeviceFlowLimits,
  ) {}

  /** Counts one user code submission, or throws TOO_MANY_ATTEMPTS (with the minutes to wait). */
  async countUserCode(ip: string, userCode: string): Promise<void> {
    // Two groups, each atomic: the counters of one group must share a Redis Cluster slot.
    const counters: Counter[] = [
      {
        key: `device:{${limiterKey('ip', ip)}}:ip`,
        limit: this.limits.perIp.points,
        windowMs: windowOf(this.limits.perIp),
      },
      {
        key: `device:{${limiterKey('code', userCode)}}:code`,
        limit: this.limits.perCode.points,
        windowMs: windowOf(this.limits.perCode),
      },
    ];
    for (const counter of counters) {
      const result = await this.counters.consume([counter]);
      if (!result.allowed)
        throw new AppError('TOO_MANY_ATTEMPTS', { minutes: Math.max(1, Math.ceil(result.msBeforeNext / 60_000)) });
    }
  }

  /** Whether a poll with this device code comes at least one interval after the previous one. */
  async pollAllowed(deviceCode: string): Promise<boolean> {
    const result = await this.counters.consume([
      {
        key: `device-poll:{${limiterKey(deviceCode)}}`,
        limit: 1,
        windowMs: this.limits.pollIntervalSeconds * 1000,
      },
    ]);
    return result.allowed;
  }
}

/**
 * Puts the guard in front of oidc-provider's own lookups: the user code page's
 * DeviceCode.findByUserCode (the only place a user code is checked) and the token endpoint's
 * DeviceCode.find for the device_code grant. oidc-provider keeps the request of the call in
 * Provider.ctx (AsyncLocalStorage), which gives the client IP and the endpoint. Also tells
 * devices the interval in the device authorization response, which oidc-provider leaves out.
 */
export function guardDeviceFlow(provider: Provider, guard: DeviceFlowGuard, pollIntervalSeconds: number): void {
  const model = provider.DeviceCode;
  const findByUserCode = model.findByUserCode.bind(model);
  model.findByUserCode = async (userCode, options) => {
    await guard.countUserCode(Provider.ctx?.ip ?? 'unknown', userCode);
    return findByUserCode(userCode, options);
  };
  type Find = (value: string, options?: { ignoreExpiration?: boolean }) => Promise<unknown>;
  const find = model.find.bind(model);
  (model as unknown as { find: Find }).find = async (value, options) => {
    if (Provider.ctx?.oidc.route === 'token' && !(await guard.pollAllowed(value))) throw new errors.SlowDown();
    return find(value, options);
  };
  provider.on('device_authorization.success', (_ctx, body: Record<string, unknown>) => {
    body.interval = pollIntervalSeconds;
  });
}
