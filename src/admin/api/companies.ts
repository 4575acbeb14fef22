import { z } from 'zod';
import type { Db } from '../../db/database.js';
import {
  addDomain,
  createCompany,
  getCompany,
  listCompanies,
  removeDomain,
  removeMembership,
  setJoinPolicy,
  setMembership,
  updateCompany,
} from '../../identity/companies/service.js';
import { findMember, memberCursor, parseMemberCursor, searchMembers } from '../../identity/companies/members.js';
import { findCompany } from '../../identity/companies/repository.js';
import { AppError } from '../../errors.js';
import { verifyDomain, type DomainVerifier } from '../../identity/companies/verification.js';
import { getRename, listRenames, startRename } from '../../identity/companies/renames.js';
import { accountIdOf, accountIdsOf } from '../companies.js';
import { defineOperation, LINK_HEADER, listOf, pageQuery, type Caller, type Operation } from './operation.js';
import { pageReply } from './paging.js';
import type { RequestMeta } from '../../request-meta.js';
import type { Config } from '../../config/schema.js';
import type { SecretBox } from '../../security/secret-box.js';
import {
  pendingEmailChange,
  pendingView,
  resendEmailChange,
  startEmailChange,
  type EmailChangeDeps,
} from '../../identity/companies/email-change.js';
import {
  invitationCursor,
  INVITATIONS_AT_ONCE,
  inviteToCompany,
  listInvitations,
  resendInvitation,
  revokeInvitation,
} from '../../identity/companies/invitations.js';

const name = z.string().max(200);
const corporateNumber = z.string().max(40).describe('法人番号: 13 digits, check digit validated');

export const DomainSchema = z.strictObject({
  domain: z.string(),
  verified: z.boolean(),
  verified_at: z.iso.datetime().nullable(),
  join_policy: z.enum(['invitation', 'auto']).describe('auto: sign-ups with the domain join the company'),
  txt_record: z
    .strictObject({ name: z.string(), type: z.literal('TXT'), value: z.string() })
    .describe('publish this record to prove the domain'),
});

export const CompanySchema = z.strictObject({
  id: z.string(),
  name_ja: z.string(),
  name_latin: z.string(),
  corporate_number: z.string().nullable(),
  require_mfa: z.boolean(),
  domains: z.array(DomainSchema),
  created_at: z.iso.datetime(),
});

export const MemberSchema = z.strictObject({
  account_id: z.string(),
  email: z.string(),
  given_name: z.string(),
  family_name: z.string(),
  role: z.enum(['member', 'admin']),
  status: z.enum(['pending', 'active', 'on_hold', 'disabled']),
  mfa_enabled: z.boolean(),
  joined_at: z.iso.datetime(),
});

const CompanyCreateSchema = z.strictObject({
  name_ja: name,
  name_latin: name,
  corporate_number: corporateNumber.optional(),
  domains: z
    .array(z.string().max(253))
    .max(100)
    .optional()
    .describe('claimed, unverified until their TXT record is found'),
  admins: z.array(z.string().max(320)).max(100).optional().describe('account ids or email addresses'),
});

const CompanyUpdateSchema = z.strictObject({
  name_ja: name.optional(),
  name_latin: name.optional(),
  corporate_number: corporateNumber.nullable().optional(),
  require_mfa: z.boolean().optional().describe('members without a second factor set one up at their next login'),
});

const DomainCreateSchema = z.strictObject({ domain: z.string().max(253) });
const DomainUpdateSchema = z.strictObject({ join_policy: z.enum(['invitation', 'auto']) });
const MemberPutSchema = z.strictObject({ role: z.enum(['member', 'admin']) });

export const InvitationSchema = z.strictObject({
  id: z.string(),
  email: z.string(),
  status: z.enum(['pending', 'expired', 'accepted', 'revoked']),
  expires_at: z.iso.datetime(),
  sent_at: z.iso.datetime(),
  accepted_at: z.iso.datetime().nullable(),
  revoked_at: z.iso.datetime().nullable(),
  created_at: z.iso.datetime(),
});

const InvitationCreateSchema = z.strictObject({
  emails: z
    .array(z.string().max(320))
    .min(1)
    .max(INVITATIONS_AT_ONCE)
    .describe(`addresses to invite, at most ${INVITATIONS_AT_ONCE}; an open invitation of an address is renewed`),
  locale: z.enum(['ja', 'en']).optional().describe('the language of the mails (default ja)'),
});

export const RenameSchema = z.strictObject({
  id: z.string(),
  company_id: z.string(),
  from_domain: z.string(),
  to_domain: z.string(),
  requested_by: z.string(),
  total: z.number().int().describe('members at from_domain when the rename started'),
  done: z.number().int().describe('members whose change has started (on hold until they enter the code)'),
  skipped: z.number().int().describe('members left out: the new address taken, or they left the company'),
  finished: z.boolean(),
  finished_at: z.iso.datetime().nullable(),
  created_at: z.iso.datetime(),
});

const RenameCreateSchema = z.strictObject({
  from_domain: z.string().max(253).describe("a verified domain of the company: its members' current addresses"),
  to_domain: z.string().max(253).describe('a verified domain of the company: the same names at this domain'),
});

const InvitationsCreatedSchema = z.strictObject({
  invitations: z.array(InvitationSchema),
  already_members: z.array(z.string()).describe('addresses of members: not invited'),
});

const invitationPageCursor = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\w-]+$/, 'not a cursor')
  .optional();

const uuidCursor = z.string().min(1).max(100).optional();
const emailCursor = z
  .string()
  .min(1)
  .max(500)
  .regex(/^[\w-]+$/, 'not a cursor')
  .optional();

export const EmailChangeSchema = z.strictObject({
  account_id: z.string(),
  company_id: z.string(),
  new_email: z.string(),
  masked_email: z.string().describe('the new address as the login shows it to the member'),
  requested_by: z.string().describe("the admin client's client_id, 'cli', or a company admin's account id"),
  code_expires_at: z.iso.datetime(),
  sent_at: z.iso.datetime(),
  created_at: z.iso.datetime(),
});

const EmailChangeCreateSchema = z.strictObject({
  email: z.string().max(320).describe("the member's new address, in a domain the company has verified"),
});

const by = (caller: Caller, meta: RequestMeta | undefined) => ({ actor: caller.clientId, meta });
const companyId = (params: Record<string, string>) => params.id ?? '';

async function existing(db: Db, id: string): Promise<void> {
  if (!(await findCompany(db, id))) throw new AppError('NOT_FOUND');
}

export function companyOperations(services: {
  db: Db;
  domainVerifier: DomainVerifier;
  box: SecretBox;
  config: Pick<Config, 'companies'>;
  /** What an address change by the company needs (codes, their throttles, the revoker). */
  emailChange: EmailChangeDeps;
  /** Nudges this process's courier (the CLI has none: a server's courier hears the outbox's NOTIFY). */
  mailQueued?: () => void;
  /** Nudges this process's rename worker (the CLI has none: a server's worker finds the job at its poll). */
  renameQueued?: () => void;
}): Operation[] {
  const { db } = services;
  const invitationDeps = { db, box: services.box, days: services.config.companies.invitationDays };
  return [
    defineOperation({
      method: 'post',
      path: '/companies/{id}/renames',
      operationId: 'startCompanyRename',
      summary:
        'Move every member at one verified domain to another (a merger): each gets the verified change, on hold until the code',
      tag: 'companies',
      scope: 'admin:companies.write',
      body: RenameCreateSchema,
      refusals: {
        409: 'RENAME_DOMAIN_NOT_VERIFIED: both domains must be verified; RENAME_RUNNING: one has not finished',
      },
      responses: { 202: { description: 'started: it runs in the background', schema: RenameSchema } },
      handle: async ({ params, body, caller, meta }) => {
        const view = await startRename(
          db,
          companyId(params),
          { from: body.from_domain, to: body.to_domain },
          by(caller, meta),
        );
        services.renameQueued?.();
        return { status: 202, body: view };
      },
    }),
    defineOperation({
      method: 'get',
      path: '/companies/{id}/renames',
      operationId: 'listCompanyRenames',
      summary: "The company's 50 newest renames with their progress",
      tag: 'companies',
      scope: 'admin:companies.read',
      responses: { 200: { description: 'newest first', schema: z.strictObject({ items: z.array(RenameSchema) }) } },
      handle: async ({ params }) => {
        const id = companyId(params);
        await existing(db, id);
        return { status: 200, body: { items: await listRenames(db, id, 50) } };
      },
    }),
    defineOperation({
      method: 'get',
      path: '/companies/{id}/renames/{rename_id}',
      operationId: 'getCompanyRename',
      summary: 'One rename and its progress',
      tag: 'companies',
      scope: 'admin:companies.read',
      responses: { 200: { description: 'the rename as it is now', schema: RenameSchema } },
      handle: async ({ params }) => ({
        status: 200,
        body: await getRename(db, companyId(params), params.rename_id ?? ''),
      }),
    }),
    defineOperation({
      method: 'post',
      path: '/companies/{id}/invitations',
      operationId: 'inviteToCompany',
      summary: 'Invite addresses (C4): each gets a mail with a link valid for companies.invitationDays, once',
      tag: 'companies',
      scope: 'admin:companies.write',
      body: InvitationCreateSchema,
      // 500 addresses of up to 320 characters, quoted: more than other requests.
      bodyLimitBytes: INVITATIONS_AT_ONCE * 330,
      refusals: { 400: 'INVITATION_EMAIL_INVALID: some addresses are not valid (none is invited)' },
      responses: { 201: { description: 'invited', schema: InvitationsCreatedSchema } },
      handle: async ({ params, body, caller, meta }) => {
        const result = await inviteToCompany(invitationDeps, companyId(params), body.emails, {
          ...by(caller, meta),
          locale: body.locale ?? 'ja',
        });
        services.mailQueued?.();
        return {
          status: 201,
          body: { invitations: result.invitations, already_members: result.alreadyMembers },
        };
      },
    }),
    defineOperation({
      method: 'get',
      path: '/companies/{id}/invitations',
      operationId: 'listCompanyInvitations',
      summary: "The company's invitations, newest first, with their status",
      tag: 'companies',
      scope: 'admin:companies.read',
      query: pageQuery({}, invitationPageCursor),
      responses: { 200: { description: 'a page', schema: listOf(InvitationSchema), headers: LINK_HEADER } },
      handle: async ({ params, query, ctx }) => {
        const id = companyId(params);
        await existing(db, id);
        const rows = await listInvitations(db, id, { after: query.after, limit: query.limit + 1 });
        return pageReply(ctx, rows, query.limit, invitationCursor);
      },
    }),
    defineOperation({
      method: 'post',
      path: '/companies/{id}/invitations/{invitation_id}/resend',
      operationId: 'resendCompanyInvitation',
      summary: 'Mail a new link (the old one stops working) valid for companies.invitationDays again',
      tag: 'companies',
      scope: 'admin:companies.write',
      refusals: { 409: 'INVITATION_NOT_OPEN: accepted or revoked already' },
      responses: { 200: { description: 'the invitation as it is now', schema: InvitationSchema } },
      handle: async ({ params, caller, meta }) => {
        const view = await resendInvitation(
          invitationDeps,
          companyId(params),
          params.invitation_id ?? '',
          by(caller, meta),
        );
        services.mailQueued?.();
        return { status: 200, body: view };
      },
    }),
    defineOperation({
      method: 'delete',
      path: '/companies/{id}/invitations/{invitation_id}',
      operationId: 'revokeCompanyInvitation',
      summary: 'Revoke an invitation: its link stops working',
      tag: 'companies',
      scope: 'admin:companies.write',
      refusals: { 409: 'INVITATION_NOT_OPEN: accepted or revoked already' },
      responses: { 204: { description: 'revoked' } },
      handle: async ({ params, caller, meta }) => {
        await revokeInvitation(db, companyId(params), params.invitation_id ?? '', by(caller, meta));
        return { status: 204 };
      },
    }),
    defineOperation({
      method: 'post',
      path: '/companies/{id}/domains/{domain}/verify',
      operationId: 'verifyCompanyDomain',
      summary: 'Look the TXT record up now: found, the domain counts; not found (or gone), it does not',
      tag: 'companies',
      scope: 'admin:companies.write',
      refusals: {
        409: 'DOMAIN_NOT_VERIFIED: no TXT record with the token; DOMAIN_TAKEN: another company verified it',
        503: 'DNS_UNAVAILABLE: the DNS did not answer; try again later',
      },
      responses: { 200: { description: 'verified', schema: DomainSchema } },
      handle: async ({ params, caller, meta }) => {
        const view = await verifyDomain(
          db,
          services.domainVerifier,
          companyId(params),
          params.domain ?? '',
          by(caller, meta),
        );
        if (!view.verified) throw new AppError('DOMAIN_NOT_VERIFIED');
        return { status: 200, body: view };
      },
    }),
    defineOperation({
      method: 'post',
      path: '/companies',
      operationId: 'createCompany',
      summary: 'Create a company: names, optional 法人番号, domains to verify, admins',
      tag: 'companies',
      scope: 'admin:companies.write',
      body: CompanyCreateSchema,
      idempotent: true,
      refusals: {
        404: 'ACCOUNT_NOT_FOUND: one of the admins names no account',
        409: 'CORPORATE_NUMBER_TAKEN: a company has this 法人番号 (or IDEMPOTENCY_KEY_IN_USE)',
      },
      responses: {
        201: {
          description: 'created',
          schema: CompanySchema,
          headers: { Location: { description: 'the new company', schema: { type: 'string' } } },
        },
      },
      handle: async ({ body, caller, meta }) => {
        const company = await createCompany(
          db,
          { ...body, admins: await accountIdsOf(db, body.admins) },
          by(caller, meta),
        );
        return { status: 201, body: company, headers: { location: `/admin/api/v1/companies/${company.id}` } };
      },
    }),
    defineOperation({
      method: 'get',
      path: '/companies',
      operationId: 'listCompanies',
      summary: 'Companies',
      tag: 'companies',
      scope: 'admin:companies.read',
      query: pageQuery({}, uuidCursor),
      responses: { 200: { description: 'a page', schema: listOf(CompanySchema), headers: LINK_HEADER } },
      handle: async ({ query, ctx }) => {
        const rows = await listCompanies(db, { after: query.after, limit: query.limit + 1 });
        return pageReply(ctx, rows, query.limit, (c) => c.id);
      },
    }),
    defineOperation({
      method: 'get',
      path: '/companies/{id}',
      operationId: 'getCompany',
      summary: 'One company with its domains',
      tag: 'companies',
      scope: 'admin:companies.read',
      responses: { 200: { description: 'the company', schema: CompanySchema } },
      handle: async ({ params }) => ({ status: 200, body: await getCompany(db, companyId(params)) }),
    }),
    defineOperation({
      method: 'patch',
      path: '/companies/{id}',
      operationId: 'updateCompany',
      summary: 'Change names, 法人番号, or whether members need a second factor',
      tag: 'companies',
      scope: 'admin:companies.write',
      body: CompanyUpdateSchema,
      refusals: { 409: 'CORPORATE_NUMBER_TAKEN: another company has this 法人番号' },
      responses: { 200: { description: 'the company as it is now', schema: CompanySchema } },
      handle: async ({ params, body, caller, meta }) => ({
        status: 200,
        body: await updateCompany(db, companyId(params), body, by(caller, meta)),
      }),
    }),
    defineOperation({
      method: 'post',
      path: '/companies/{id}/domains',
      operationId: 'addCompanyDomain',
      summary: 'Claim a domain; it counts once its TXT record monban-verification=<token> is found',
      tag: 'companies',
      scope: 'admin:companies.write',
      body: DomainCreateSchema,
      refusals: { 409: 'DOMAIN_TAKEN: another company has verified this domain' },
      responses: { 201: { description: 'the domain and the TXT record to publish', schema: DomainSchema } },
      handle: async ({ params, body, caller, meta }) => ({
        status: 201,
        body: await addDomain(db, companyId(params), body.domain, by(caller, meta)),
      }),
    }),
    defineOperation({
      method: 'patch',
      path: '/companies/{id}/domains/{domain}',
      operationId: 'updateCompanyDomain',
      summary: 'Whether sign-ups with the domain join the company on their own or need an invitation',
      tag: 'companies',
      scope: 'admin:companies.write',
      body: DomainUpdateSchema,
      responses: { 200: { description: 'the domain as it is now', schema: DomainSchema } },
      handle: async ({ params, body, caller, meta }) => ({
        status: 200,
        body: await setJoinPolicy(db, companyId(params), params.domain ?? '', body.join_policy, by(caller, meta)),
      }),
    }),
    defineOperation({
      method: 'delete',
      path: '/companies/{id}/domains/{domain}',
      operationId: 'removeCompanyDomain',
      summary: 'Give up a domain',
      tag: 'companies',
      scope: 'admin:companies.write',
      refusals: { 409: 'COMPANY_LAST_ADMIN: the company would be left without an admin' },
      responses: { 204: { description: 'removed' } },
      handle: async ({ params, caller, meta }) => {
        await removeDomain(db, companyId(params), params.domain ?? '', by(caller, meta));
        return { status: 204 };
      },
    }),
    defineOperation({
      method: 'get',
      path: '/companies/{id}/members',
      operationId: 'listCompanyMembers',
      summary: 'Members by email address, optionally searched by address or name',
      tag: 'companies',
      scope: 'admin:companies.read',
      query: pageQuery(
        { q: z.string().min(1).max(320).optional().describe('part of the address or a name') },
        emailCursor,
      ),
      responses: { 200: { description: 'a page', schema: listOf(MemberSchema), headers: LINK_HEADER } },
      handle: async ({ params, query, ctx }) => {
        const id = companyId(params);
        await existing(db, id);
        const rows = await searchMembers(db, id, {
          q: query.q,
          after: parseMemberCursor(query.after),
          limit: query.limit + 1,
        });
        return pageReply(ctx, rows, query.limit, memberCursor);
      },
    }),
    defineOperation({
      method: 'post',
      path: '/companies/{id}/members',
      operationId: 'putCompanyMember',
      summary: 'Add an account (by id or address) with a role, or change its role',
      tag: 'companies',
      scope: 'admin:companies.write',
      body: z.strictObject({
        account: z.string().min(1).max(320).describe('an account id or address'),
        role: z.enum(['member', 'admin']),
      }),
      refusals: {
        404: 'NOT_FOUND (no such company) or ACCOUNT_NOT_FOUND',
        409: 'COMPANY_LAST_ADMIN: the company would be left without an admin',
      },
      responses: { 200: { description: 'the membership as it is now', schema: MemberSchema } },
      handle: async ({ params, body, caller, meta }) => {
        const id = companyId(params);
        await existing(db, id);
        const accountId = await accountIdOf(db, body.account);
        await setMembership(db, id, accountId, body.role, by(caller, meta));
        return { status: 200, body: await memberOf(db, id, accountId) };
      },
    }),
    defineOperation({
      method: 'patch',
      path: '/companies/{id}/members/{account_id}',
      operationId: 'changeCompanyMemberRole',
      summary: "Change a member's role",
      tag: 'companies',
      scope: 'admin:companies.write',
      body: MemberPutSchema,
      refusals: { 409: 'COMPANY_LAST_ADMIN: the company would be left without an admin' },
      responses: { 200: { description: 'the membership as it is now', schema: MemberSchema } },
      handle: async ({ params, body, caller, meta }) => {
        const id = companyId(params);
        const accountId = params.account_id ?? '';
        await memberOf(db, id, accountId);
        await setMembership(db, id, accountId, body.role, by(caller, meta));
        return { status: 200, body: await memberOf(db, id, accountId) };
      },
    }),
    defineOperation({
      method: 'post',
      path: '/companies/{id}/members/{account_id}/email-change',
      operationId: 'startMemberEmailChange',
      summary:
        "Change a member's address (M3): the account is on hold until the member enters the code mailed to the new address; the old address is told",
      tag: 'companies',
      scope: 'admin:companies.write',
      body: EmailChangeCreateSchema,
      refusals: {
        400: 'EMAIL_INVALID, EMAIL_CHANGE_SAME, or EMAIL_CHANGE_DOMAIN_NOT_VERIFIED: the new address is not in a verified domain of the company',
        404: 'NOT_FOUND (no such company) or ACCOUNT_NOT_FOUND (not a member)',
        409: "EMAIL_TAKEN: another account has the address; EMAIL_CHANGE_MEMBER_OUTSIDE: the member's address is not in a verified domain; STATUS_CONFLICT: the account is not active",
        429: 'TOO_MANY_ATTEMPTS: too many codes mailed for the account (companies.emailChangeSends)',
      },
      responses: { 202: { description: 'started: the change waits for the code', schema: EmailChangeSchema } },
      handle: async ({ params, body, caller, meta }) => {
        const id = companyId(params);
        await existing(db, id);
        const view = await startEmailChange(
          services.emailChange,
          id,
          params.account_id ?? '',
          body.email,
          by(caller, meta),
        );
        services.mailQueued?.();
        return { status: 202, body: view };
      },
    }),
    defineOperation({
      method: 'get',
      path: '/companies/{id}/members/{account_id}/email-change',
      operationId: 'getMemberEmailChange',
      summary: "The member's pending address change, if any (404 when none)",
      tag: 'companies',
      scope: 'admin:companies.read',
      responses: { 200: { description: 'the pending change', schema: EmailChangeSchema } },
      handle: async ({ params }) => {
        const id = companyId(params);
        const accountId = params.account_id ?? '';
        await memberOf(db, id, accountId);
        const row = await pendingEmailChange(db, accountId);
        if (!row || row.company_id !== id) throw new AppError('NOT_FOUND');
        return { status: 200, body: pendingView(row) };
      },
    }),
    defineOperation({
      method: 'post',
      path: '/companies/{id}/members/{account_id}/email-change/resend',
      operationId: 'resendMemberEmailChange',
      summary: 'Mail a new code to the new address (the old code stops working)',
      tag: 'companies',
      scope: 'admin:companies.write',
      refusals: {
        409: 'EMAIL_CHANGE_NOT_PENDING: no change of this company waits for a code',
        429: 'TOO_MANY_ATTEMPTS: too many codes mailed for the account (companies.emailChangeSends)',
      },
      responses: { 200: { description: 'the pending change, with its new expiry', schema: EmailChangeSchema } },
      handle: async ({ params, caller, meta }) => {
        const id = companyId(params);
        const accountId = params.account_id ?? '';
        await memberOf(db, id, accountId);
        const view = await resendEmailChange(services.emailChange, accountId, { ...by(caller, meta), companyId: id });
        services.mailQueued?.();
        return { status: 200, body: view };
      },
    }),
    defineOperation({
      method: 'delete',
      path: '/companies/{id}/members/{account_id}',
      operationId: 'removeCompanyMember',
      summary: 'Remove a member: the company role ends, company fields become editable again',
      tag: 'companies',
      scope: 'admin:companies.write',
      refusals: { 409: 'COMPANY_LAST_ADMIN: the company would be left without an admin' },
      responses: { 204: { description: 'removed' } },
      handle: async ({ params, caller, meta }) => {
        await removeMembership(db, companyId(params), params.account_id ?? '', by(caller, meta));
        return { status: 204 };
      },
    }),
  ];
}

async function memberOf(db: Db, companyId: string, accountId: string) {
  const member = await findMember(db, companyId, accountId);
  if (!member) throw new AppError('NOT_FOUND');
  return member;
}
