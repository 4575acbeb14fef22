import { z } from 'zod';
import type { Db } from '../../db/database.js';
import {
  approveSupportCase,
  caseCursor,
  getSupportCase,
  listSupportCases,
  rejectSupportCase,
} from '../../identity/accounts/support-cases.js';
import { addressChanger, type EmailChangeDeps } from '../../identity/companies/email-change.js';
import type { SecretBox } from '../../security/secret-box.js';
import { defineOperation, LINK_HEADER, listOf, pageQuery, type Operation } from './operation.js';
import { pageReply } from './paging.js';

export const SupportCaseSchema = z.strictObject({
  id: z.string(),
  account_id: z.string(),
  kind: z.literal('email_change'),
  status: z.enum(['open', 'approved', 'rejected']),
  current_email: z.string().describe('the address when the case was opened'),
  requested_email: z.string(),
  reason: z.string().describe("the partner's own words"),
  response: z.string().nullable().describe('the message mailed with a rejection'),
  resolved_by: z.string().nullable(),
  resolved_at: z.iso.datetime().nullable(),
  created_at: z.iso.datetime(),
});

const RejectSchema = z.strictObject({
  message: z.string().min(1).max(2000).describe("mailed to the user, in the case's language as written"),
});

const caseCursorParam = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\w-]+$/, 'not a cursor')
  .optional();

/** M2: partners' requests for a new address, which operators approve or reject. */
export function supportCaseOperations(services: {
  db: Db;
  box: SecretBox;
  emailChange: EmailChangeDeps;
  mailQueued?: () => void;
}): Operation[] {
  const { db } = services;
  const addresses = addressChanger(services.emailChange);
  return [
    defineOperation({
      method: 'get',
      path: '/support-cases',
      operationId: 'listSupportCases',
      summary: "Partners' requests for a new email address (M2), oldest first: the queue to work through",
      tag: 'support-cases',
      scope: 'admin:users.read',
      query: pageQuery({ status: z.enum(['open', 'approved', 'rejected']).optional() }, caseCursorParam),
      responses: { 200: { description: 'a page', schema: listOf(SupportCaseSchema), headers: LINK_HEADER } },
      handle: async ({ query, ctx }) => {
        const rows = await listSupportCases(db, { status: query.status, after: query.after, limit: query.limit + 1 });
        return pageReply(ctx, rows, query.limit, caseCursor);
      },
    }),
    defineOperation({
      method: 'get',
      path: '/support-cases/{id}',
      operationId: 'getSupportCase',
      summary: 'One support case',
      tag: 'support-cases',
      scope: 'admin:users.read',
      responses: { 200: { description: 'the case', schema: SupportCaseSchema } },
      handle: async ({ params }) => ({ status: 200, body: await getSupportCase(db, params.id ?? '') }),
    }),
    defineOperation({
      method: 'post',
      path: '/support-cases/{id}/approve',
      operationId: 'approveSupportCase',
      summary:
        'Approve an open case: the verified change starts (code to the new address, notice to the old, account on hold until the code)',
      tag: 'support-cases',
      scope: 'admin:users.write',
      refusals: {
        409: "SUPPORT_CASE_NOT_OPEN: approved or rejected already; EMAIL_TAKEN: the requested address is another account's (the case stays open); STATUS_CONFLICT: the account is disabled or on hold for another reason",
      },
      responses: { 200: { description: 'the case as it is now', schema: SupportCaseSchema } },
      handle: async ({ params, caller, meta }) => {
        const view = await approveSupportCase(db, addresses, params.id ?? '', { actor: caller.clientId, meta });
        services.mailQueued?.();
        return { status: 200, body: view };
      },
    }),
    defineOperation({
      method: 'post',
      path: '/support-cases/{id}/reject',
      operationId: 'rejectSupportCase',
      summary: 'Reject an open case: the address stays, and the user gets the message by mail',
      tag: 'support-cases',
      scope: 'admin:users.write',
      body: RejectSchema,
      refusals: { 409: 'SUPPORT_CASE_NOT_OPEN: approved or rejected already' },
      responses: { 200: { description: 'the case as it is now', schema: SupportCaseSchema } },
      handle: async ({ params, body, caller, meta }) => {
        const view = await rejectSupportCase(services, params.id ?? '', body.message, {
          actor: caller.clientId,
          meta,
        });
        services.mailQueued?.();
        return { status: 200, body: view };
      },
    }),
  ];
}
