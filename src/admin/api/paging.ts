import type { Context } from 'koa';
import type { Reply } from './operation.js';

/**
 * A page of a keyset list: `rows` was read with limit + 1, so one more row means there is a
 * next page; its cursor goes in the body and in `Link: <...>; rel="next"` (RFC 8288).
 */
export function pageReply<T>(
  ctx: Context,
  rows: T[],
  limit: number,
  cursorOf: (row: T) => string | number,
  param: 'after' | 'before' = 'after',
): Reply {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  const next = rows.length > limit && last !== undefined ? cursorOf(last) : null;
  return { status: 200, body: { items, next }, headers: next === null ? {} : linkNext(ctx, next, param) };
}

/** The same request with `after` (or `before`) set to `next`. */
export function linkNext(
  ctx: Context,
  next: string | number,
  param: 'after' | 'before' = 'after',
): Record<string, string> {
  const url = new URL(ctx.originalUrl, 'http://x');
  url.searchParams.set(param, String(next));
  return { link: `<${url.pathname}${url.search}>; rel="next"` };
}
