import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { CompanyRole, CompanyRow } from '../../db/schema.js';
import { AppError, FormError } from '../../errors.js';
import { checkbox, parseForm, password, text } from '../../http/form.js';
import { formBody } from '../../http/middleware.js';
import { verifyCsrf } from '../../http/csrf.js';
import { errorList, renderPage, seeOther } from '../../http/page.js';
import { requestMeta } from '../../http/request-meta.js';
import { setAccountStatus } from '../../identity/accounts/status.js';
import { removeMfaByAdmin } from '../../identity/factors/mfa.js';
import { memberCursor, parseMemberCursor, searchMembers } from '../../identity/companies/members.js';
import {
  cancelEmailChange,
  pendingEmailChanges,
  resendEmailChange,
  startEmailChange,
  type EmailChangeDeps,
} from '../../identity/companies/email-change.js';
import { addDomain, domainView, putMember, removeMembership, updateCompany } from '../../identity/companies/service.js';
import { domainsOf } from '../../identity/companies/repository.js';
import { listRenames, startRename } from '../../identity/companies/renames.js';
import { verifyDomain, type DomainVerifier } from '../../identity/companies/verification.js';
import { checkPassword } from '../../identity/password/credential-check.js';
import { recordAudit } from '../../security/audit.js';
import type { RequestMeta } from '../../request-meta.js';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import {
  acceptInvitation,
  addressesOf,
  companyName,
  invitationCursor,
  INVITATIONS_AT_ONCE,
  inviteToCompany,
  listInvitations,
  openInvitation,
  resendInvitation,
  revokeInvitation,
} from '../../identity/companies/invitations.js';
import { negotiateLocale } from '../../http/locale.js';
import { normalizeEmail } from '../../identity/accounts/email.js';
import { isClosedInvitation, renderInvitationClosed } from '../invitation-pages.js';
import { requireSignIn } from '../settings/auth.js';
import { signedIn, type SettingsDeps, type SignedIn } from '../settings/context.js';
import { companiesAdministeredBy, companyEvents, companyForAdmin, memberOfCompany } from './service.js';

const PAGE_SIZE = 25;

export interface CompanyDeps extends SettingsDeps {
  /** Invitation links looked up per IP (the accept page is a code check). */
  invitationPerIp: RateLimiterAbstract;
  /** TXT lookups that prove a company's domains (companies.dnsServers). */
  domainVerifier: DomainVerifier;
  /** Address changes of members (M3): codes, their throttles, the revoker. */
  emailChange: EmailChangeDeps;
  /** Wakes this process's worker for a bulk rename just started. */
  renameQueued: () => void;
}

const DONE = [
  'role-changed',
  'removed',
  'held',
  'released',
  'mfa-reset',
  'policy-saved',
  'invited',
  'invitation-resent',
  'invitation-revoked',
  'domain-added',
  'domain-verified',
  'email-change-started',
  'email-change-resent',
  'rename-started',
] as const;
type Done = (typeof DONE)[number];

/** A path parameter of the route (koa-router's params are untyped on a plain Context). */
const param = (ctx: Context, name: string): string =>
  (ctx as unknown as { params: Record<string, string | undefined> }).params[name] ?? '';

/** Every action's form carries the admin's password; the member row's also the button pressed. */
const passwordForm = z.object({ current_password: password() });
const memberActionForm = z.object({ do: text(32) });
/** The member's new address (M3); emailProblem says whether it is one. */
const emailChangeForm = z.object({ new_email: text(320, { trim: true }) });
const requireMfaForm = z.object({ require_mfa: checkbox('on') });
/** Up to 500 pasted addresses of up to 254 characters, form-encoded: a larger body than other forms. */
const INVITE_BODY_BYTES = INVITATIONS_AT_ONCE * 600;
const inviteForm = z.object({ emails: text(INVITE_BODY_BYTES) });
const invitationActionForm = z.object({ do: text(32) });
/** A domain name (RFC 1035: at most 253 characters); normalizeDomain says whether it is one. */
const domainForm = z.object({ domain: text(253) });
const renameForm = z.object({ from_domain: text(253), to_domain: text(253) });

function renderCompanyPage(
  ctx: Context,
  deps: SettingsDeps,
  view: string,
  path: string,
  data: Record<string, unknown>,
  error?: AppError | FormError,
): void {
  const current = signedIn(ctx);
  renderPage(
    ctx,
    deps,
    view,
    {
      title: 'company.title',
      account: current.account,
      errors: errorList(error),
      done: (DONE as readonly unknown[]).includes(ctx.query.done)
        ? `company.done.${ctx.query.done as string}`
        : undefined,
      ...data,
    },
    { status: error?.status ?? 200, form: true, languagePath: path, timeZone: current.account.zoneinfo },
  );
}

async function showMembers(ctx: Context, deps: SettingsDeps, error?: AppError | FormError): Promise<void> {
  const { account } = signedIn(ctx);
  const company = await companyForAdmin(deps.db, param(ctx, 'id'), account.id);
  const q = typeof ctx.query.q === 'string' ? ctx.query.q.slice(0, 320) : '';
  const after = typeof ctx.query.after === 'string' ? ctx.query.after : undefined;
  const rows = await searchMembers(deps.db, company.id, { q, after: parseMemberCursor(after), limit: PAGE_SIZE + 1 });
  const members = rows.slice(0, PAGE_SIZE);
  const changes = await pendingEmailChanges(
    deps.db,
    members.map((m) => m.account_id),
  );
  const domains = (await domainsOf(deps.db, company.id)).map(domainView);
  const last = members.at(-1);
  const next =
    rows.length > PAGE_SIZE && last
      ? `/company/${company.id}?${new URLSearchParams({ ...(q ? { q } : {}), after: memberCursor(last) }).toString()}`
      : undefined;
  renderCompanyPage(
    ctx,
    deps,
    'company/members',
    `/company/${company.id}`,
    {
      company,
      q,
      next,
      members: members.map((m) => ({
        ...m,
        isAdmin: m.role === 'admin',
        onHold: m.status === 'on_hold',
        self: m.account_id === account.id,
        // A change of this company waiting for its code (another company's is not shown).
        emailChange: changes.get(m.account_id)?.company_id === company.id ? changes.get(m.account_id) : undefined,
      })),
      domains,
      verifiedDomains: domains.filter((d) => d.verified).map((d) => d.domain),
      renames: (await listRenames(deps.db, company.id, 5)).map((r) => ({
        ...r,
        percent: r.total === 0 ? 100 : Math.floor(((r.done + r.skipped) * 100) / r.total),
      })),
    },
    error,
  );
}

/** The company's invitations (C4), newest first, with their status, and the form to invite. */
async function showInvitations(ctx: Context, deps: SettingsDeps, error?: AppError | FormError): Promise<void> {
  const { account } = signedIn(ctx);
  const company = await companyForAdmin(deps.db, param(ctx, 'id'), account.id);
  const after = typeof ctx.query.after === 'string' ? ctx.query.after : undefined;
  const rows = await listInvitations(deps.db, company.id, { after, limit: PAGE_SIZE + 1 });
  const invitations = rows.slice(0, PAGE_SIZE);
  const last = invitations.at(-1);
  renderCompanyPage(
    ctx,
    deps,
    'company/invitations',
    `/company/${company.id}/invitations`,
    {
      company,
      max: INVITATIONS_AT_ONCE,
      emails: error ? parseForm(ctx, inviteForm).emails : '',
      invitations: invitations.map((i) => ({
        ...i,
        statusKey: `company.invitationStatus.${i.status}`,
        open: i.status === 'pending' || i.status === 'expired',
      })),
      next:
        rows.length > PAGE_SIZE && last
          ? `/company/${company.id}/invitations?after=${invitationCursor(last)}`
          : undefined,
    },
    error,
  );
}

/**
 * The admin's password again for every action (PR3's re-authentication), checked through the
 * login's throttle, before anything changes. A wrong one is audited like the console's.
 */
async function confirmAdminPassword(ctx: Context, deps: SettingsDeps, current: SignedIn, meta: RequestMeta) {
  const typed = parseForm(ctx, passwordForm).current_password;
  if (!typed) throw new AppError('PASSWORD_REQUIRED');
  const { account } = current;
  const right = await checkPassword(
    deps,
    { account, identifier: account.email, password: typed, ip: meta.ip, device: meta.device },
    meta,
  );
  if (!right) {
    await recordAudit(deps.db, { type: 'reauth.failed', accountId: account.id }, meta);
    throw new AppError('CURRENT_PASSWORD_WRONG');
  }
}

type Action = (args: {
  ctx: Context;
  company: CompanyRow;
  memberId: string;
  actor: string;
  meta: RequestMeta;
}) => Promise<Done>;

/** An admin's action: admin of this company (403 otherwise), the password again, the work, the notice. */
function action(deps: SettingsDeps, work: Action, onMember = true, page: 'members' | 'invitations' = 'members') {
  return async (ctx: Context): Promise<void> => {
    const current = signedIn(ctx);
    const company = await companyForAdmin(deps.db, param(ctx, 'id'), current.account.id);
    const memberId = param(ctx, 'account');
    if (onMember) await memberOfCompany(deps.db, company.id, memberId);
    const meta = requestMeta(ctx, deps.config);
    try {
      await confirmAdminPassword(ctx, deps, current, meta);
      const done = await work({ ctx, company, memberId, actor: current.account.id, meta });
      seeOther(ctx, `/company/${company.id}${page === 'invitations' ? '/invitations' : ''}?done=${done}`);
    } catch (err) {
      if (err instanceof AppError || err instanceof FormError) {
        return page === 'invitations' ? showInvitations(ctx, deps, err) : showMembers(ctx, deps, err);
      }
      throw err;
    }
  };
}

/** /company: the pages of company admins (issue 15): members, roles, holds, MFA, the audit events. */
export function companyRoutes(deps: CompanyDeps): Router {
  const router = new Router({ prefix: '/company' });
  const form = [formBody(deps.config.bodyLimitBytes), verifyCsrf];
  const signed = requireSignIn(deps);

  router.get('/', signed, async (ctx) => {
    const { account } = signedIn(ctx);
    const companies = await companiesAdministeredBy(deps.db, account.id);
    if (companies.length === 0) throw new AppError('COMPANY_FORBIDDEN');
    const [only] = companies;
    if (companies.length === 1 && only) return seeOther(ctx, `/company/${only.id}`);
    renderCompanyPage(ctx, deps, 'company/index', '/company', { companies });
  });
  /**
   * C4: an invitee who has an account accepts here, logged in as the invited address (the login
   * brings them back). Each lookup of the link is counted per IP before the token is checked.
   */
  const token = (ctx: Context) => param(ctx, 'token');
  router.get('/join/:token', signed, async (ctx) => {
    const { account } = signedIn(ctx);
    try {
      const open = await openInvitation(deps.db, deps.invitationPerIp, token(ctx), requestMeta(ctx, deps.config));
      if (open.invitation.email !== normalizeEmail(account.email)) throw new AppError('INVITATION_OTHER_ACCOUNT');
      renderPage(
        ctx,
        deps,
        'company/join',
        {
          title: 'invitation.joinTitle',
          account,
          token: token(ctx),
          company: companyName(open.company, negotiateLocale(ctx, deps.config.locales)),
        },
        { form: true, timeZone: account.zoneinfo },
      );
    } catch (err) {
      if (!isClosedInvitation(err)) throw err;
      renderInvitationClosed(ctx, deps, err);
    }
  });
  router.post('/join/:token', signed, ...form, async (ctx) => {
    const { account } = signedIn(ctx);
    const meta = requestMeta(ctx, deps.config);
    try {
      const open = await openInvitation(deps.db, deps.invitationPerIp, token(ctx), meta);
      await acceptInvitation(deps.db, open, account, meta);
      renderPage(
        ctx,
        deps,
        'company/join',
        {
          title: 'invitation.joinTitle',
          account,
          joined: true,
          company: companyName(open.company, meta.locale),
        },
        { timeZone: account.zoneinfo, languagePath: '/account' },
      );
    } catch (err) {
      if (!isClosedInvitation(err)) throw err;
      renderInvitationClosed(ctx, deps, err);
    }
  });

  router.get('/:id', signed, (ctx) => showMembers(ctx, deps));
  router.get('/:id/invitations', signed, (ctx) => showInvitations(ctx, deps));
  router.get('/:id/audit', signed, async (ctx) => {
    const { account } = signedIn(ctx);
    const company = await companyForAdmin(deps.db, param(ctx, 'id'), account.id);
    const before = typeof ctx.query.before === 'string' ? ctx.query.before : undefined;
    const events = await companyEvents(deps.db, company.id, before, PAGE_SIZE + 1);
    const shown = events.slice(0, PAGE_SIZE);
    renderCompanyPage(ctx, deps, 'company/audit', `/company/${company.id}/audit`, {
      company,
      events: shown,
      next: events.length > PAGE_SIZE ? `/company/${company.id}/audit?before=${shown.at(-1)?.id ?? ''}` : undefined,
    });
  });

  const revoker = deps.revoker;
  const post = (path: string, work: Action, onMember = true) =>
    router.post(path, signed, ...form, action(deps, work, onMember));

  const setRole = async (
    company: CompanyRow,
    memberId: string,
    role: CompanyRole,
    by: { actor: string; meta: RequestMeta },
  ) => {
    await deps.db.transaction().execute((trx) => putMember(trx, company.id, memberId, role, by));
    return 'role-changed' as const;
  };
  const memberActions: Record<string, Action> = {
    'role-admin': ({ company, memberId, actor, meta }) => setRole(company, memberId, 'admin', { actor, meta }),
    'role-member': ({ company, memberId, actor, meta }) => setRole(company, memberId, 'member', { actor, meta }),
    remove: async ({ company, memberId, actor, meta }) => {
      await removeMembership(deps.db, company.id, memberId, { actor, meta });
      return 'removed';
    },
    hold: async ({ company, memberId, actor, meta }) => {
      const member = await memberOfCompany(deps.db, company.id, memberId);
      if (member.status !== 'active' || memberId === actor) throw new AppError('STATUS_CONFLICT');
      await setAccountStatus(
        { db: deps.db, revoker },
        memberId,
        { status: 'on_hold', by: actor, companyId: company.id },
        meta,
      );
      return 'held';
    },
    release: async ({ company, memberId, actor, meta }) => {
      const member = await memberOfCompany(deps.db, company.id, memberId);
      // Release lifts a hold only; a disabled account is the operator's.
      if (member.status !== 'on_hold') throw new AppError('STATUS_CONFLICT');
      await setAccountStatus(
        { db: deps.db, revoker },
        memberId,
        { status: 'active', by: actor, companyId: company.id },
        meta,
      );
      // Released by hand, the account keeps its address: a change waiting for its code is dropped.
      await cancelEmailChange(deps.db, memberId, company.id);
      return 'released';
    },
    'change-email': async ({ ctx, company, memberId, actor, meta }) => {
      await startEmailChange(deps.emailChange, company.id, memberId, parseForm(ctx, emailChangeForm).new_email, {
        actor,
        meta,
      });
      deps.mailQueued();
      return 'email-change-started';
    },
    'resend-email-change': async ({ company, memberId, actor, meta }) => {
      await resendEmailChange(deps.emailChange, memberId, { actor, meta, companyId: company.id });
      deps.mailQueued();
      return 'email-change-resent';
    },
    'reset-mfa': async ({ company, memberId, actor, meta }) => {
      await removeMfaByAdmin(deps, memberId, actor, meta, company.id);
      return 'mfa-reset';
    },
  };
  /** One form per member row: the password once, and a button per action (`do`). */
  post('/:id/members/:account', async (args) => {
    const key = parseForm(args.ctx, memberActionForm).do;
    const run = Object.hasOwn(memberActions, key) ? memberActions[key] : undefined;
    if (!run) throw new AppError('BAD_REQUEST');
    return run(args);
  });
  post(
    '/:id/require-mfa',
    async ({ ctx, company, actor, meta }) => {
      await updateCompany(
        deps.db,
        company.id,
        { require_mfa: parseForm(ctx, requireMfaForm).require_mfa },
        { actor, meta },
      );
      return 'policy-saved';
    },
    false,
  );

  const invitationDeps = { db: deps.db, box: deps.box, days: deps.config.companies.invitationDays };
  const listForm = [formBody(Math.max(deps.config.bodyLimitBytes, INVITE_BODY_BYTES)), verifyCsrf];
  router.post(
    '/:id/invitations',
    signed,
    ...listForm,
    action(
      deps,
      async ({ ctx, company, actor, meta }) => {
        await inviteToCompany(invitationDeps, company.id, addressesOf(parseForm(ctx, inviteForm).emails), {
          actor,
          meta,
          locale: meta.locale,
        });
        deps.mailQueued();
        return 'invited';
      },
      false,
      'invitations',
    ),
  );
  /** One form per invitation: the password once, and resend or revoke (`do`). */
  router.post(
    '/:id/invitations/:invitation',
    signed,
    ...form,
    action(
      deps,
      async ({ ctx, company, actor, meta }) => {
        const id = param(ctx, 'invitation');
        const what = parseForm(ctx, invitationActionForm).do;
        if (what === 'resend') {
          await resendInvitation(invitationDeps, company.id, id, { actor, meta });
          deps.mailQueued();
          return 'invitation-resent';
        }
        if (what === 'revoke') {
          await revokeInvitation(deps.db, company.id, id, { actor, meta });
          return 'invitation-revoked';
        }
        throw new AppError('BAD_REQUEST');
      },
      false,
      'invitations',
    ),
  );

  // A merger: every member at one verified domain moves to another, as a job with its progress here.
  post(
    '/:id/renames',
    async ({ ctx, company, actor, meta }) => {
      const fields = parseForm(ctx, renameForm);
      await startRename(deps.db, company.id, { from: fields.from_domain, to: fields.to_domain }, { actor, meta });
      deps.renameQueued();
      return 'rename-started';
    },
    false,
  );

  // Domains: the admin claims one, publishes the TXT record shown, then asks Monban to look.
  post(
    '/:id/domains',
    async ({ ctx, company, actor, meta }) => {
      await addDomain(deps.db, company.id, parseForm(ctx, domainForm).domain, { actor, meta });
      return 'domain-added';
    },
    false,
  );
  post(
    '/:id/domains/verify',
    async ({ ctx, company, actor, meta }) => {
      const domain = parseForm(ctx, domainForm).domain;
      const view = await verifyDomain(deps.db, deps.domainVerifier, company.id, domain, { actor, meta });
      if (!view.verified) throw new AppError('DOMAIN_NOT_VERIFIED');
      return 'domain-verified';
    },
    false,
  );
  return router;
}
