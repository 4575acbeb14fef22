import { z } from 'zod';
import { AppError } from '../../errors.js';
import {
  changeUserStatus,
  createUser,
  getUser,
  resetUserMfa,
  revokeUserSessions,
  searchUsers,
  unlockUser,
  updateUser,
  type UserServices,
} from '../users.js';
import type { SettableStatus } from '../../identity/accounts/status.js';
import { defineOperation, LINK_HEADER, listOf, pageQuery, type Operation } from './operation.js';
import { pageReply } from './paging.js';

const STATUSES = ['pending', 'active', 'on_hold', 'disabled'] as const;
const name = z.string().min(1).max(1000);
const zoneinfo = z.string().min(1).max(100).describe('an IANA time zone, e.g. Asia/Tokyo');
const phone = z.string().max(40).describe('E.164, e.g. +819012345678');

export const UserSchema = z.strictObject({
  id: z.string(),
  email: z.string(),
  email_verified: z.boolean(),
  given_name: z.string(),
  family_name: z.string(),
  locale: z.string(),
  zoneinfo: z.string().nullable(),
  phone_number: z.string().nullable(),
  phone_number_verified: z.boolean(),
  company_name: z.string().nullable(),
  status: z.enum(STATUSES),
  locked: z.boolean().describe('locked after too many wrong passwords in a row; unlock lifts it'),
  mfa_enabled: z.boolean(),
  require_phishing_resistant: z
    .boolean()
    .describe('company policy: only a passkey or security key may complete a login (password + code is not enough)'),
  created_at: z.iso.datetime(),
});

export const UserCreateSchema = z.strictObject({
  email: z.string().min(1).max(320),
  password: z.string().min(1).max(1000).describe('checked against the password policy'),
  given_name: name,
  family_name: name,
  locale: z.enum(['ja', 'en']).optional(),
  zoneinfo: zoneinfo.optional(),
  phone_number: phone.optional(),
  status: z
    .enum(['pending', 'active'])
    .optional()
    .describe('active (default): a verified address; pending: the owner activates it'),
});

export const UserUpdateSchema = z.strictObject({
  given_name: name.optional(),
  family_name: name.optional(),
  locale: z.enum(['ja', 'en']).optional(),
  zoneinfo: zoneinfo.nullable().optional(),
  phone_number: phone.nullable().optional().describe('E.164; a new number is unverified until its owner confirms it'),
  require_phishing_resistant: z
    .boolean()
    .optional()
    .describe('true: logins must end with a passkey or security key; sessions made without one log in again'),
});

const ReasonSchema = z.strictObject({ reason: z.string().max(500).optional() }).optional();

/** The cursor of the users' list: the last lowercased email, base64url (addresses stay out of logs' plain sight). */
const afterCursor = z
  .string()
  .min(1)
  .max(500)
  .regex(/^[\w-]+$/, 'not a cursor')
  .transform((cursor) => Buffer.from(cursor, 'base64url').toString('utf8'))
  .optional();

const userId = (params: Record<string, string>) => params.id ?? '';

const STATUS_ACTIONS: { action: string; status: SettableStatus; summary: string }[] = [
  { action: 'disable', status: 'disabled', summary: 'Disable: sessions and tokens end at once; login is refused' },
  { action: 'enable', status: 'active', summary: 'Enable a disabled account' },
  {
    action: 'hold',
    status: 'on_hold',
    summary: 'Put on hold (L5): sessions and tokens end; login says so in general terms',
  },
  { action: 'release', status: 'active', summary: 'Release an account from hold' },
];

export function userOperations(services: UserServices): Operation[] {
  const by = (caller: { clientId: string }, meta: Parameters<typeof createUser>[2]['meta']) => ({
    actor: caller.clientId,
    meta,
  });
  const action = (
    path: string,
    operationId: string,
    summary: string,
    run: (id: string, actor: ReturnType<typeof by>) => Promise<unknown>,
  ) =>
    defineOperation({
      method: 'post',
      path: `/users/{id}/${path}`,
      operationId,
      summary,
      tag: 'users',
      scope: 'admin:users.write',
      responses: { 200: { description: 'the user as it is now', schema: UserSchema } },
      handle: async ({ params, caller, meta }) => ({ status: 200, body: await run(userId(params), by(caller, meta)) }),
    });
  return [
    defineOperation({
      method: 'post',
      path: '/users',
      operationId: 'createUser',
      summary: 'Create an account (active with a verified address unless status is pending)',
      tag: 'users',
      scope: 'admin:users.write',
      body: UserCreateSchema,
      idempotent: true,
      refusals: { 409: 'EMAIL_TAKEN: an account has this address (or IDEMPOTENCY_KEY_IN_USE)' },
      responses: {
        201: {
          description: 'created',
          schema: UserSchema,
          headers: { Location: { description: 'the new user', schema: { type: 'string' } } },
        },
      },
      handle: async ({ body, caller, meta }) => {
        const user = await createUser(services, body, by(caller, meta));
        return { status: 201, body: user, headers: { location: `/admin/api/v1/users/${user.id}` } };
      },
    }),
    defineOperation({
      method: 'get',
      path: '/users',
      operationId: 'searchUsers',
      summary: 'Users by email address, optionally by email prefix, status or company name',
      tag: 'users',
      scope: 'admin:users.read',
      query: pageQuery(
        {
          email_prefix: z.string().min(1).max(320).optional(),
          status: z.enum(STATUSES).optional(),
          company: z.string().min(1).max(200).optional().describe('the company name, case-insensitive'),
        },
        afterCursor,
      ),
      responses: { 200: { description: 'a page', schema: listOf(UserSchema), headers: LINK_HEADER } },
      handle: async ({ query, ctx }) => {
        const rows = await searchUsers(services, {
          emailPrefix: query.email_prefix,
          status: query.status,
          company: query.company,
          after: query.after,
          limit: query.limit + 1,
        });
        return pageReply(ctx, rows, query.limit, (u) => Buffer.from(u.email.toLowerCase()).toString('base64url'));
      },
    }),
    defineOperation({
      method: 'get',
      path: '/users/{id}',
      operationId: 'getUser',
      summary: 'One user',
      tag: 'users',
      scope: 'admin:users.read',
      responses: { 200: { description: 'the user', schema: UserSchema } },
      handle: async ({ params }) => ({ status: 200, body: await getUser(services, userId(params)) }),
    }),
    defineOperation({
      method: 'patch',
      path: '/users/{id}',
      operationId: 'updateUser',
      summary: 'Change profile fields, or the passkey-only company policy',
      tag: 'users',
      scope: 'admin:users.write',
      body: UserUpdateSchema,
      responses: { 200: { description: 'the user as it is now', schema: UserSchema } },
      handle: async ({ params, body, caller, meta }) => ({
        status: 200,
        body: await updateUser(services, userId(params), body, by(caller, meta)),
      }),
    }),
    ...STATUS_ACTIONS.map(({ action: path, status, summary }) =>
      defineOperation({
        method: 'post',
        path: `/users/{id}/${path}`,
        operationId: `${path}User`,
        summary,
        tag: 'users',
        scope: 'admin:users.write',
        body: ReasonSchema,
        refusals: {
          409: "STATUS_CONFLICT: enable lifts a disable, release a hold; a pending account is its owner's to activate",
        },
        responses: { 200: { description: 'the user as it is now', schema: UserSchema } },
        handle: async ({ params, body, caller, meta }) => {
          const id = userId(params);
          const current = await getUser(services, id);
          // enable lifts a disable, release a hold: the other way round is a mistake worth refusing.
          if (
            (path === 'enable' && current.status === 'on_hold') ||
            (path === 'release' && current.status === 'disabled')
          )
            throw new AppError('STATUS_CONFLICT');
          if (current.status === 'pending') throw new AppError('STATUS_CONFLICT');
          return {
            status: 200,
            body: await changeUserStatus(services, id, status, { ...by(caller, meta), reason: body?.reason }),
          };
        },
      }),
    ),
    action('unlock', 'unlockUser', 'Unlock an account locked after too many wrong passwords', (id, actor) =>
      unlockUser(services, id, actor),
    ),
    action(
      'reset-mfa',
      'resetUserMfa',
      'Remove the second factor (lost phone and recovery codes): sessions end, the owner is mailed',
      (id, actor) => resetUserMfa(services, id, actor),
    ),
    action('revoke-sessions', 'revokeUserSessions', "End every session and every app's tokens", (id, actor) =>
      revokeUserSessions(services, id, actor),
    ),
  ];
}
