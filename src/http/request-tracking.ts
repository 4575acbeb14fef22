import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from '../logger.js';
import { httpDuration } from '../observability/metrics.js';
import { nameTracedRoute, requestContext } from '../observability/request-context.js';

/** What a proxy may hand us as a request id: short, no spaces or markup. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Probes and scrapes are asked every few seconds: counted, but not logged line by line. */
const QUIET = new Set(['/livez', '/readyz', '/healthz', '/metrics']);

/** The route pattern for metrics: koa-router's, else oidc-provider's route name, else a class. */
function routeOf(ctx: Context): string {
  const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  if (typeof matched === 'string') return matched;
  const oidcRoute = (ctx as { oidc?: { route?: unknown } }).oidc?.route;
  if (typeof oidcRoute === 'string') return `oidc:${oidcRoute}`;
  if (ctx.status === 404) return 'unmatched';
  return ctx.path.startsWith('/.well-known/') ? ctx.path : 'other';
}

/** What an error that escaped the handlers tells Koa to answer (its `status`, else 500). */
function statusOf(err: unknown): number {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : 500;
}

/**
 * First middleware: gives the request its id (`x-request-id` from a trusted proxy, else a new
 * UUID), returns it in the response, runs the rest inside the request context (so every log
 * line carries it), logs one line per request and times it by route.
 *
 * The line is written only when its level is on, and built only then: no per-request child
 * logger (pino-http made one for every request, a fifth of the CPU of a token request).
 */
export function requestTracking(options: { logger: Logger; trustProxy: unknown }) {
  const { logger } = options;
  const trusted = options.trustProxy !== false && options.trustProxy !== 0;
  const logLine = (ctx: Context, requestId: string, started: bigint, status: number, err?: unknown) => {
    const level = err !== undefined || status >= 500 ? 'error' : 'info';
    const path = ctx.path;
    if (!logger.isLevelEnabled(level) || QUIET.has(path)) return;
    logger[level](
      {
        // Path only: query strings may carry codes and tokens.
        req: { id: requestId, method: ctx.method, path },
        res: { statusCode: status },
        responseTime: Math.round(Number(process.hrtime.bigint() - started) / 1e6),
        ...(err !== undefined ? { err } : {}),
      },
      err !== undefined ? 'request errored' : 'request completed',
    );
  };
  const track = async (ctx: Context, next: Next, requestId: string): Promise<void> => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } catch (err) {
      logLine(ctx, requestId, started, statusOf(err), err);
      throw err;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeOf(ctx);
      httpDuration.observe({ method: ctx.method, route, status: `${String(ctx.status).charAt(0)}xx` }, seconds);
      nameTracedRoute(route);
    }
    logLine(ctx, requestId, started, ctx.status);
  };
  // One async function per request, run inside the request context (not an async wrapper around it).
  return (ctx: Context, next: Next): Promise<void> => {
    const offered = ctx.get('x-request-id');
    const requestId = trusted && REQUEST_ID.test(offered) ? offered : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('x-request-id', requestId);
    return requestContext.run({ requestId }, track, ctx, next, requestId);
  };
}
