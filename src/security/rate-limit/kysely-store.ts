import { sql } from 'kysely';
import RateLimiterStoreAbstract from 'rate-limiter-flexible/lib/RateLimiterStoreAbstract.js';
import RateLimiterRes from 'rate-limiter-flexible/lib/RateLimiterRes.js';
import type { Db } from '../../db/database.js';

interface Row {
  points: number;
  expire: string | number | null;
}

/**
 * rate-limiter-flexible's store contract over Kysely, for deployments without Redis (the embedded
 * default). One atomic upsert per attempt, the same algorithm as the library's Postgres store.
 */
export class RateLimiterKysely extends RateLimiterStoreAbstract {
  readonly #db: Db;

  constructor(options: Record<string, unknown> & { db: Db }) {
    super({ ...options, storeClient: options.db });
    this.#db = options.db;
  }

  protected async _upsert(key: string, points: number, msDuration: number, forceExpire = false): Promise<Row> {
    const now = Date.now();
    const newExpire = msDuration > 0 ? now + msDuration : null;
    const expired = sql`rate_limits.expire is not null and rate_limits.expire <= ${now}`;
    const result = await sql<Row>`
      insert into rate_limits (key, points, expire) values (${key}, ${points}, ${newExpire})
      on conflict (key) do update set
        points = case when ${forceExpire} or ${expired} then ${points} else rate_limits.points + ${points} end,
        expire = case when ${forceExpire} or ${expired} then ${newExpire}::bigint else rate_limits.expire end
      returning points, expire`.execute(this.#db);
    const [row] = result.rows;
    if (!row) throw new Error('rate limit upsert returned no row');
    return row;
  }

  protected async _get(key: string): Promise<Row | null> {
    const row = await this.#db
      .selectFrom('rate_limits')
      .select(['points', 'expire'])
      .where('key', '=', key)
      .where((eb) => eb.or([eb('expire', 'is', null), eb('expire', '>', String(Date.now()))]))
      .executeTakeFirst();
    return row ?? null;
  }

  protected async _delete(key: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('rate_limits').where('key', '=', key).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  protected override _getRateLimiterRes(
    _key: string,
    changedPoints: number,
    result: unknown,
  ): InstanceType<typeof RateLimiterRes> {
    const row = result as Row;
    const res = new RateLimiterRes();
    const { points } = row;
    const expire = row.expire === null ? null : Number(row.expire);
    const mutable = res as unknown as Record<string, unknown>;
    mutable.isFirstInDuration = changedPoints === points;
    mutable.consumedPoints = points;
    mutable.remainingPoints = Math.max(this.points - points, 0);
    mutable.msBeforeNext = expire ? Math.max(expire - Date.now(), 0) : -1;
    return res;
  }
}

/** Removes counters whose window closed. */
export async function sweepRateLimits(db: Db): Promise<void> {
  await db.deleteFrom('rate_limits').where('expire', '<', String(Date.now())).execute();
}
