// rate-limiter-flexible's documented base class for custom stores is not in its type file.
declare module 'rate-limiter-flexible/lib/RateLimiterStoreAbstract.js' {
  import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';

  export default class RateLimiterStoreAbstract extends RateLimiterAbstract {
    constructor(options: Record<string, unknown>);
    protected client: unknown;
    readonly points: number;
    protected _getRateLimiterRes(rlKey: string, changedPoints: number, result: unknown): RateLimiterRes;
  }
}
declare module 'rate-limiter-flexible/lib/RateLimiterRes.js' {
  import { RateLimiterRes } from 'rate-limiter-flexible';
  export default RateLimiterRes;
}
