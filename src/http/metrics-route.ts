import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Next } from 'koa';
import { sameSecret } from '../constant-time.js';
import { metrics } from '../observability/metrics.js';

export interface MetricsAccess {
  /** When set, a scrape must send `Authorization: Bearer <token>`. */
  bearerToken?: string | undefined;
}

function authorized(header: string | undefined, token: string | undefined): boolean {
  if (!token) return true;
  return sameSecret(`Bearer ${token}`, header ?? '');
}

/** GET /metrics on the main port: the Prometheus text format of the process's registry. */
export function metricsRoute(access: MetricsAccess) {
  const serve = async (ctx: Context): Promise<void> => {
    ctx.set('cache-control', 'no-store');
    if (!authorized(ctx.get('authorization') || undefined, access.bearerToken)) {
      ctx.status = 401;
      ctx.set('www-authenticate', 'Bearer realm="metrics"');
      ctx.body = 'unauthorized\n';
      return;
    }
    ctx.type = metrics.contentType;
    ctx.body = await metrics.metrics();
  };
  // Every other request goes straight on, without a promise of this middleware's own.
  return (ctx: Context, next: Next): Promise<void> =>
    ctx.path !== '/metrics' || ctx.method !== 'GET' ? next() : serve(ctx);
}

/** The same answer for a separate metrics port (plain node:http, nothing else served there). */
export function metricsListener(access: MetricsAccess) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if ((req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    if (!authorized(req.headers.authorization, access.bearerToken)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="metrics"' }).end('unauthorized\n');
      return;
    }
    metrics.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' }).end(text),
      () => res.writeHead(500).end(),
    );
  };
}
