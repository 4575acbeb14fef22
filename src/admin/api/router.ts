import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import type { Context, Next } from 'koa';
import type { Logger } from '../../logger.js';
import { requestMeta } from '../../http/request-meta.js';
import type { AccessTokenVerifier } from '../../oidc/access-tokens.js';
import { authenticate } from './auth.js';
import type { ClientServices } from '../clients.js';
import { idempotent } from './idempotency.js';
import { openApiDocument } from './openapi.js';
import type { Operation, Reply } from './operation.js';
import { ApiProblem, toProblem } from './problem.js';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import { consumeOrRefuse, limiterKey } from '../../security/rate-limit/limiters.js';

export const ADMIN_API_PREFIX = '/admin/api/v1';

/** What the admin API's own machinery needs; each group of operations takes its own. */
export interface AdminApiServices extends ClientServices {
  logger: Logger;
}

export interface AdminApiDeps {
  services: AdminApiServices;
  verify: AccessTokenVerifier;
  /** Requests per IP (counted before the token is looked at) and per admin client. */
  perIp: RateLimiterAbstract;
  perClient: RateLimiterAbstract;
  /** The operations (adminOperations), built by the wiring. */
  operations: Operation[];
}

function send(ctx: Context, reply: Reply): void {
  ctx.status = reply.status;
  for (const [name, value] of Object.entries(reply.headers ?? {})) ctx.set(name, value);
  if (reply.body !== undefined) ctx.body = reply.body;
}

function hasBody(ctx: Context): boolean {
  return Boolean(ctx.get('transfer-encoding')) || Number(ctx.get('content-length') || 0) > 0;
}

/** Runs one operation: token and scope, query, body, Idempotency-Key, then the handler. */
function runner(deps: AdminApiDeps, op: Operation) {
  const { services } = deps;
  return async (ctx: Context): Promise<void> => {
    // Counted before anything is checked (a flood of made-up tokens costs a point each), atomically.
    await consumeOrRefuse(deps.perIp, limiterKey('admin-api', ctx.ip));
    const caller = await authenticate(ctx, deps.verify, op.scope);
    await consumeOrRefuse(deps.perClient, limiterKey('admin-api', caller.clientId));
    const query = op.query ? op.query.parse(ctx.query) : {};
    let body: unknown;
    if (op.body && hasBody(ctx)) {
      if (!ctx.is('application/json')) throw new ApiProblem('UNSUPPORTED_MEDIA_TYPE', 'send application/json');
      body = op.body.parse((ctx.request as { body?: unknown }).body);
    } else if (op.body) body = op.body.parse(undefined); // refused unless the body is optional

    const input = {
      body,
      query,
      params: (ctx as unknown as { params: Record<string, string> }).params,
      caller,
      meta: requestMeta(ctx, services.config),
      ctx,
    };
    const key = ctx.get('idempotency-key');
    const reply =
      op.idempotent && key
        ? await idempotent(services, caller.clientId, key, { method: op.method, path: ctx.path, body }, () =>
            op.handle(input),
          )
        : await op.handle(input);
    send(ctx, reply);
  };
}

/** An unknown path is 404; a known path asked with another method is 405 with Allow (RFC 9110 15.5.6). */
function notFoundOrNotAllowed(router: Router, ctx: Context): ApiProblem {
  const allowed = new Set(router.match(ctx.path, ctx.method).path.flatMap((layer) => layer.methods));
  if (allowed.size === 0) return new ApiProblem('NOT_FOUND', `no operation ${ctx.method} ${ctx.path}`);
  const allow = [...allowed].join(', ');
  return new ApiProblem('METHOD_NOT_ALLOWED', `${ctx.path} takes ${allow}`, undefined, { allow });
}

/**
 * The admin API under /admin/api/v1: JSON in and out, RFC 9457 problem details for every
 * refusal, the OpenAPI document at /openapi.json (no token needed). Everything else under the
 * prefix is a NOT_FOUND problem.
 */
export function adminApi(deps: AdminApiDeps) {
  const { services } = deps;
  const { operations } = deps;
  const router = new Router({ prefix: ADMIN_API_PREFIX });
  const document = openApiDocument(services.config.issuer, operations);
  router.get('/openapi.json', (ctx) => {
    ctx.set('cache-control', 'no-cache');
    ctx.body = document;
  });
  const jsonBody = (limit: number) =>
    bodyParser({ enableTypes: ['json'], jsonLimit: `${limit}b`, encoding: 'utf-8', jsonStrict: true });
  const json = jsonBody(services.config.bodyLimitBytes);
  for (const op of operations) {
    const path = op.path.replace(/\{(\w+)\}/g, ':$1');
    const limit = Math.max(op.bodyLimitBytes ?? 0, services.config.bodyLimitBytes);
    if (op.body)
      router[op.method](path, limit > services.config.bodyLimitBytes ? jsonBody(limit) : json, runner(deps, op));
    else router[op.method](path, runner(deps, op));
  }
  const routes = router.routes() as unknown as (ctx: Context, next: Next) => Promise<void>;
  return async (ctx: Context, next: Next): Promise<void> => {
    if (ctx.path !== ADMIN_API_PREFIX && !ctx.path.startsWith(`${ADMIN_API_PREFIX}/`)) {
      await next();
      return;
    }
    ctx.set('cache-control', 'no-store');
    try {
      await routes(ctx, () => Promise.reject(notFoundOrNotAllowed(router, ctx)));
    } catch (err) {
      const { body, headers, fault } = toProblem(err);
      if (fault) services.logger.error({ err, path: ctx.path }, 'admin API request failed');
      ctx.status = body.status;
      for (const [name, value] of Object.entries(headers)) ctx.set(name, value);
      ctx.body = body;
      ctx.type = 'application/problem+json';
    }
  };
}
