import type { Context } from 'koa';
import { z } from 'zod';
import type { AdminScope } from '../../oidc/resource-servers.js';
import type { RequestMeta } from '../../request-meta.js';

/** The admin client calling, as its access token says. */
export interface Caller {
  clientId: string;
  scopes: ReadonlySet<string>;
}

export interface OperationInput<B, Q> {
  body: B;
  query: Q;
  params: Record<string, string>;
  caller: Caller;
  /** The HTTP request's; none when the CLI runs the operation on the database itself. */
  meta: RequestMeta | undefined;
  ctx: Context;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface DocumentedResponse {
  description: string;
  schema?: z.ZodType;
  headers?: Record<string, { description: string; schema: Record<string, unknown> }>;
}

/**
 * One endpoint of the admin API: its route, the scope it needs, the zod schemas of its query and
 * body (which both validate requests and describe them in the OpenAPI document) and its answers.
 */
export interface Operation {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** OpenAPI path template under /admin/api/v1, e.g. /clients/{client_id}. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  scope: AdminScope;
  query?: z.ZodObject | undefined;
  body?: z.ZodType | undefined;
  /** Accepts Idempotency-Key: a retry with the same key gets the first answer again. */
  idempotent?: boolean;
  /** A larger JSON body than `bodyLimitBytes` (a list of 500 addresses). */
  bodyLimitBytes?: number;
  responses: Record<number, DocumentedResponse>;
  /** Refusals of its own beyond the common ones (401, 403, 400 for input, 404 for a path id, ...). */
  refusals?: Record<number, string>;
  handle(input: OperationInput<unknown, unknown>): Promise<Reply>;
}

/** Defines an operation with its handler typed by its own schemas. */
export function defineOperation<
  Q extends z.ZodObject = z.ZodObject<Record<string, never>>,
  B extends z.ZodType = z.ZodUndefined,
>(
  op: Omit<Operation, 'handle' | 'query' | 'body'> & {
    query?: Q;
    body?: B;
    handle(input: OperationInput<z.output<B>, z.output<Q>>): Promise<Reply>;
  },
): Operation {
  return op;
}

const LIMIT_MAX = 200;

/** `?limit=&after=`: keyset paging, never offsets. */
export function pageQuery<S extends z.ZodRawShape, A extends z.ZodType = z.ZodOptional<z.ZodString>>(
  extra: S,
  after?: A,
) {
  return z.strictObject({
    limit: z.coerce.number().int().min(1).max(LIMIT_MAX).default(50).describe(`at most ${LIMIT_MAX}`),
    after: (after ?? z.string().min(1).max(200).optional()).describe('the `next` of the previous page') as A,
    ...extra,
  });
}

/** `{ items, next }`: every list's answer. */
export function listOf<T extends z.ZodType>(item: T, cursor: z.ZodType = z.string()) {
  return z.strictObject({
    items: z.array(item),
    next: cursor.nullable().describe('the cursor of the next page (`after=`), null when there is none'),
  });
}

export const LINK_HEADER = {
  Link: { description: 'rel="next": the next page (RFC 8288)', schema: { type: 'string' } },
};
