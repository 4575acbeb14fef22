import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../logger.js';
import { httpDuration } from '../observability/metrics.js';
import { nameTracedRoute, requestContext } from '../observability/request-context.js';

/** What a proxy may hand us as a request id: short, no spaces or markup. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Probes and scrapes are asked every few seconds: counted, but not logged line by line. */
const QUIET = new Set(['/livez', '/readyz', '/healthz', '/metrics']);

type WithId = IncomingMessage & { id?: string };

/** The route pattern for metrics: koa-router's, else oidc-provider's route name, else a class. */
function routeOf(ctx: Context): string {
  const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
  if (typeof matched === 'string') return matched;
  const oidcRoute = (ctx as { oidc?: { route?: unknown } }).oidc?.route;
  if (typeof oidcRoute === 'string') return `oidc:${oidcRoute}`;
  if (ctx.status === 404) return 'unmatched';
  return ctx.path.startsWith('/.well-known/') ? ctx.path : 'other';
}

/**
 * First middleware: gives the request its id (`x-request-id` from a trusted proxy, else a new
 * UUID), returns it in the response, runs the rest inside the request context (so every log
 * line carries it), logs one line per request with pino-http, and times it by route.
 */
export function requestTracking(options: { logger: Logger; trustProxy: unknown }) {
  const trusted = options.trustProxy !== false && options.trustProxy !== 0;
  const httpLogger = pinoHttp({
    logger: options.logger,
    // requestTracking sets req.id before pino-http sees the request.
    genReqId: (req) => (req as unknown as { id: string }).id,
    quietReqLogger: true,
    autoLogging: { ignore: (req) => QUIET.has((req.url ?? '').split('?')[0] ?? '') },
    // Path only: query strings may carry codes and tokens.
    serializers: {
      req: (req: { id?: string; method?: string; url?: string }) => ({
        id: req.id,
        method: req.method,
        path: (req.url ?? '').split('?')[0],
      }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
  });
  return async (ctx: Context, next: Next): Promise<void> => {
    const offered = ctx.get('x-request-id');
    const requestId = trusted && REQUEST_ID.test(offered) ? offered : randomUUID();
    ctx.state.requestId = requestId;
    (ctx.req as WithId).id = requestId;
    ctx.set('x-request-id', requestId);
    httpLogger(ctx.req, ctx.res);
    const started = process.hrtime.bigint();
    try {
      await requestContext.run({ requestId }, next);
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeOf(ctx);
      httpDuration.observe({ method: ctx.method, route, status: `${String(ctx.status).charAt(0)}xx` }, seconds);
      nameTracedRoute(route);
    }
  };
}
