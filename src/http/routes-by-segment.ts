import type Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';

/** A route path whose first segment is plain text, ended by a slash or by the path's end. */
const PLAIN_FIRST_SEGMENT = /^\/([A-Za-z0-9._~-]*)(?:\/|$)/;

const firstSegment = (path: string): string => {
  const slash = path.indexOf('/', 1);
  return (slash < 0 ? path.slice(1) : path.slice(1, slash)).toLowerCase();
};

/**
 * A router's middleware that passes a request on at once when the first segment of its path
 * (compared without case, as @koa/router compares) begins none of the router's routes. Every
 * page request went through each of the nine page routers, which each test every route's regular
 * expression (and call their debug logger per route): an authorization request, which none of
 * them serves, tested about a hundred. A router with a route whose first segment is not plain
 * text (a parameter, a pattern) is used as it is. The router's own middleware (router.use) does
 * not count: @koa/router runs it only for a request that one of the router's routes serves.
 */
export function routesBySegment(router: Router): Middleware {
  const routes = router.routes() as (ctx: Context, next: Next) => Promise<unknown>;
  const segments = new Set<string>();
  for (const layer of router.stack) {
    if (layer.methods.length === 0) continue;
    const segment = typeof layer.path === 'string' ? PLAIN_FIRST_SEGMENT.exec(layer.path)?.[1] : undefined;
    if (segment === undefined) return routes;
    segments.add(segment.toLowerCase());
  }
  return (ctx, next): Promise<unknown> => (segments.has(firstSegment(ctx.path)) ? routes(ctx, next) : next());
}
