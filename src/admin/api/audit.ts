import { z } from 'zod';
import type { Db } from '../../db/database.js';
import { queryAuditEvents } from '../../security/audit-log.js';
import { defineOperation, LINK_HEADER, listOf, pageQuery, type Operation } from './operation.js';
import { linkNext, pageReply } from './paging.js';

export const AuditEventSchema = z.strictObject({
  id: z.number().int().describe('the position in the log: grows in the order events become visible'),
  type: z.string(),
  at: z.iso.datetime(),
  actor: z
    .string()
    .nullable()
    .describe("who did it: an admin client's client_id, 'cli', or null (the account's owner)"),
  account: z.string().nullable(),
  ip: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
});

const datetime = z.iso.datetime({ offset: true }).transform((text) => new Date(text));

export function auditOperations(services: { db: Db }): Operation[] {
  return [
    defineOperation({
      method: 'get',
      path: '/audit-events',
      operationId: 'listAuditEvents',
      summary:
        'Audit events in log order. Poll with after=<next>: no event is skipped or repeated, even while new ones are written',
      tag: 'audit-events',
      scope: 'admin:audit.read',
      query: pageQuery(
        {
          type: z.string().min(1).max(100).optional(),
          account: z.string().min(1).max(100).optional().describe('an account id'),
          actor: z.string().min(1).max(200).optional(),
          ip: z.string().min(1).max(100).optional(),
          since: datetime.optional().describe('at or after (RFC 3339)'),
          until: datetime.optional().describe('before (RFC 3339)'),
          order: z
            .enum(['asc', 'desc'])
            .default('asc')
            .describe('desc: the newest first (a tail), paged back with before=<next>'),
          before: z.coerce
            .number()
            .int()
            .min(1)
            .optional()
            .describe('with order=desc: the `next` of the previous page'),
        },
        z.coerce.number().int().min(0).optional(),
      ),
      responses: {
        200: {
          description:
            'a page; `next` is the id to poll from next time (the last id of this page, or `after` when it is empty); with order=desc, the `before` of the next (older) page, null at the oldest',
          schema: listOf(AuditEventSchema, z.number().int()),
          headers: LINK_HEADER,
        },
      },
      handle: async ({ query, ctx }) => {
        const items = await queryAuditEvents(services.db, {
          after: query.after,
          before: query.before,
          order: query.order,
          limit: query.order === 'desc' ? query.limit + 1 : query.limit,
          type: query.type,
          account: query.account,
          actor: query.actor,
          ip: query.ip,
          since: query.since,
          until: query.until,
        });
        if (query.order === 'desc') return pageReply(ctx, items, query.limit, (e) => e.id, 'before');
        // A feed, not a finite list: the cursor always says where to go on from.
        const next = items.at(-1)?.id ?? query.after ?? null;
        return { status: 200, body: { items, next }, headers: next === null ? {} : linkNext(ctx, next) };
      },
    }),
  ];
}
