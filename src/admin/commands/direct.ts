import type { Context } from 'koa';
import { ADMIN_API_PREFIX } from '../api/router.js';
import type { Caller, Operation } from '../api/operation.js';
import { toProblem } from '../api/problem.js';
import { AdminApiRefusal, type AdminBackend } from './backend.js';

/** The CLI on the database acts as 'cli' in the audit log, with every admin scope. */
const CLI_CALLER: Caller = { clientId: 'cli', scopes: new Set() };

/**
 * The admin API's own operations run in this process (no server): the same validation, the same
 * answers and refusals, the same audit events (actor 'cli'), only without HTTP.
 */
export class DirectBackend implements AdminBackend {
  readonly via = 'database';
  readonly #routes: { op: Operation; pattern: RegExp }[];
  constructor(operations: Operation[]) {
    this.#routes = operations.map((op) => ({
      op,
      pattern: new RegExp(`^${op.path.replace(/\{(\w+)\}/g, '(?<$1>[^/]+)')}$`),
    }));
  }

  async call<T>(method: string, target: string, body?: unknown): Promise<T> {
    const url = new URL(target, 'http://cli');
    const route = this.#routes.find((r) => r.op.method === method.toLowerCase() && r.pattern.test(url.pathname));
    if (!route) throw new AdminApiRefusal(404, 'NOT_FOUND', `no operation ${method} ${url.pathname}`);
    const groups = route.pattern.exec(url.pathname)?.groups ?? {};
    const params = Object.fromEntries(Object.entries(groups).map(([k, v]) => [k, decodeURIComponent(v)]));
    try {
      const reply = await route.op.handle({
        query: route.op.query ? route.op.query.parse(Object.fromEntries(url.searchParams)) : {},
        body: route.op.body ? route.op.body.parse(body) : undefined,
        params,
        caller: CLI_CALLER,
        meta: undefined,
        // Paging builds its Link header from the request's URL; nothing else reads the context.
        ctx: { originalUrl: `${ADMIN_API_PREFIX}${url.pathname}${url.search}` } as Context,
      });
      return reply.body as T;
    } catch (err) {
      const { body: problem, fault } = toProblem(err);
      if (fault) throw err;
      throw new AdminApiRefusal(problem.status, problem.code, problem.detail ?? problem.title);
    }
  }
}
