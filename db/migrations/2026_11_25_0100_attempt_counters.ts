import { sql, type Kysely } from 'kysely';

// Issue 11: attempt counters checked and counted in one atomic call, for deployments without
// Redis (src/security/rate-limit/attempt-counters.ts; the Redis side is a Lua script).
//
// monban_consume_attempts(keys, limits, windows_ms, now_ms) adds one attempt to every counter if
// none has reached its limit. It returns {0, count...} (the counts after this attempt, in the
// order given) or {index, ms until that counter's window closes} (1-based) when one had.
// Counters live in rate_limits (expire: epoch ms), like rate-limiter-flexible's own rows.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function monban_consume_attempts(p_keys text[], p_limits integer[], p_windows bigint[], p_now bigint)
    returns bigint[] language plpgsql as $$
    declare
      n integer := coalesce(array_length(p_keys, 1), 0);
      i integer;
      seen integer[] := array_fill(0, array[n]);
      ends bigint[] := array_fill(0::bigint, array[n]);
      counts bigint[] := array[0::bigint];
      v_points integer;
      v_ends bigint;
    begin
      -- Lock every counter, creating it at zero or restarting it when its window has closed. In
      -- key order, so that concurrent calls never wait on each other in a circle.
      for i in select k.ord from unnest(p_keys) with ordinality as k(key, ord) order by k.key loop
        insert into rate_limits as r (key, points, expire) values (p_keys[i], 0, p_now + p_windows[i])
        on conflict (key) do update set
          points = case when r.expire is not null and r.expire <= p_now then 0 else r.points end,
          expire = case when r.expire is not null and r.expire <= p_now then p_now + p_windows[i] else r.expire end
        returning r.points, coalesce(r.expire, p_now) into v_points, v_ends;
        seen[i] := v_points;
        ends[i] := v_ends;
      end loop;
      for i in 1 .. n loop
        if seen[i] >= p_limits[i] then
          return array[i::bigint, greatest(ends[i] - p_now, 0)];
        end if;
      end loop;
      update rate_limits set points = points + 1 where key = any(p_keys);
      for i in 1 .. n loop
        counts := counts || (seen[i] + 1)::bigint;
      end loop;
      return counts;
    end $$`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop function if exists monban_consume_attempts(text[], integer[], bigint[], bigint)`.execute(db);
}
