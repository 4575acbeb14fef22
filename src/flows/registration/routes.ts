import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { AppError, FormError } from '../../errors.js';
import { verifyCsrf } from '../../http/csrf.js';
import { z } from 'zod';
import { checkbox, parseForm, password, text } from '../../http/form.js';
import { negotiateLocale } from '../../http/locale.js';
import { formBody } from '../../http/middleware.js';
import { errorList, errorMessage, renderPage, seeOther, type PageDeps } from '../../http/page.js';
import { requestMeta } from '../../http/request-meta.js';
import { withLang } from '../../http/url.js';
import { withParams } from '../../text/views.js';
import { countryOfLanguages, countryOptions } from '../../identity/accounts/countries.js';
import { flowPages } from '../flow-pages.js';
import { codeMinutes } from '../kernel/codes.js';
import { continueLoginAs, openLogin } from '../login-link.js';
import { companyName, openInvitation, type OpenInvitation } from '../../identity/companies/invitations.js';
import { findAccountByEmail } from '../../identity/accounts/repository.js';
import { isClosedInvitation, renderInvitationClosed } from '../invitation-pages.js';
import {
  resendSignUpCode,
  signUpByInvitation,
  startSignUp,
  verifySignUp,
  type RegistrationDeps,
  type SignUpInput,
} from './service.js';
import { RegistrationFlow } from './state.js';

export interface RegistrationRouteDeps extends PageDeps, RegistrationDeps {
  provider: Provider;
}

/** An invited sign-up's form (C4): the link's token, the fixed address, the company's name. */
interface InvitationForm {
  token: string;
  email: string;
  company: string;
}

function renderForm(
  ctx: Context,
  deps: RegistrationRouteDeps,
  values: Partial<SignUpInput>,
  error?: FormError | AppError,
  uiLocales?: unknown,
  status = error?.status ?? 200,
  invitation?: InvitationForm,
): void {
  const locale = negotiateLocale(ctx, deps.config.locales, uiLocales);
  const codes = error instanceof FormError ? error.codes : error ? [error.code] : [];
  renderPage(
    ctx,
    deps,
    'signup/form',
    {
      title: 'signup.title',
      values,
      interaction: values.interaction,
      countries: countryOptions(locale).map((c) => ({ ...c, selected: c.code === values.country })),
      errors: errorList(error),
      invalid: {
        ...Object.fromEntries(codes.map((code) => [code.replace(/_.*/, '').toLowerCase(), true])),
        confirmation: codes.includes('PASSWORD_MISMATCH'),
      },
      policy: JSON.stringify(deps.policy.checklist()),
      policyValues: deps.policy.checklist(),
      invitation,
    },
    {
      status,
      uiLocales,
      form: true,
      languagePath: invitation
        ? `/signup/invitation/${invitation.token}`
        : withParams('/signup', { interaction: values.interaction }),
    },
  );
}

/** A new form: the country the browser's languages point at is chosen already (the user can change it). */
function freshValues(ctx: Context, interaction: string | undefined): Partial<SignUpInput> {
  return { interaction, partner: false, country: countryOfLanguages(ctx.get('accept-language')) };
}

function renderVerify(
  ctx: Context,
  deps: RegistrationRouteDeps,
  email: string,
  options: { error?: AppError; sent?: boolean; uiLocales?: unknown } = {},
): void {
  renderPage(
    ctx,
    deps,
    'signup/verify',
    {
      title: 'signup.verifyTitle',
      email,
      digits: deps.config.codes.digits,
      minutes: codeMinutes(deps.config.codes),
      sent: options.sent,
      ...errorMessage(options.error),
    },
    { status: options.error?.status ?? 200, uiLocales: options.uiLocales, form: true, languagePath: '/signup/verify' },
  );
}

/** The sign-up form (S1-S3): limits only; the service checks each field with its own message. */
const signUpForm = z.object({
  interaction: text(200),
  email: text(1000),
  password: password(),
  password_confirmation: password(),
  given_name: text(1000),
  family_name: text(1000),
  country: text(100),
  partner: checkbox('yes'),
});

/** The invited sign-up's form: no address (the invitation's) and no company questions. */
const invitedSignUpForm = signUpForm.omit({ interaction: true, email: true, partner: true });

/** The activation code. */
const codeForm = z.object({ code: text(64) });

/** /signup: the sign-up form, the activation-code page, resend and start again (C1-C3). */
export function registrationRoutes(deps: RegistrationRouteDeps): Router {
  const router = new Router({ prefix: '/signup' });
  const form = [formBody(deps.config.bodyLimitBytes), verifyCsrf];
  const pages = flowPages(deps, {
    flow: RegistrationFlow,
    cookie: 'monban_signup',
    path: '/signup',
    // A fresh form (200) that says why the user is back at the start.
    restart: (ctx, notice, login) => renderForm(ctx, deps, freshValues(ctx, login?.uid), notice, login?.uiLocales, 200),
  });
  router.use(pages.restartExpired);

  const showVerify = async (ctx: Context, options: { error?: AppError; sent?: boolean } = {}) =>
    renderVerify(ctx, deps, pages.current(ctx).email, { ...options, uiLocales: (await pages.login(ctx))?.uiLocales });

  router.get('/', async (ctx) => {
    const login = await openLogin(deps, ctx.query.interaction);
    renderForm(ctx, deps, freshValues(ctx, login?.uid), undefined, login?.uiLocales);
  });

  router.post('/', ...form, async (ctx) => {
    const fields = parseForm(ctx, signUpForm);
    const login = await openLogin(deps, fields.interaction);
    const uiLocales = login?.uiLocales;
    const input: SignUpInput = {
      email: fields.email,
      password: fields.password,
      passwordConfirmation: fields.password_confirmation,
      givenName: fields.given_name,
      familyName: fields.family_name,
      country: fields.country,
      partner: fields.partner,
      interaction: login?.uid,
    };
    try {
      const flowId = await startSignUp(deps, input, requestMeta(ctx, deps.config, uiLocales));
      pages.setCookie(ctx, flowId);
      seeOther(ctx, withLang(ctx, '/signup/verify'));
    } catch (err) {
      if (!(err instanceof FormError || err instanceof AppError)) throw err;
      const { password: _p, passwordConfirmation: _c, ...kept } = input;
      renderForm(ctx, deps, kept, err, uiLocales);
    }
  });

  router.get('/verify', pages.load, (ctx) => showVerify(ctx, { sent: ctx.query.sent !== undefined }));

  router.post('/verify', ...form, pages.load, async (ctx) => {
    try {
      const { code } = parseForm(ctx, codeForm);
      const done = await verifySignUp(deps, pages.current(ctx), code, requestMeta(ctx, deps.config));
      pages.setCookie(ctx, null);
      const login = await pages.login(ctx);
      if (login) {
        // Back to the login the user came from, at the password step, address filled in.
        await continueLoginAs(login, done.email);
        return seeOther(ctx, withLang(ctx, `/interaction/${login.uid}/password`, { activated: '1' }));
      }
      renderPage(ctx, deps, 'signup/activated', { title: 'signup.activatedTitle', email: done.email });
    } catch (err) {
      if (!(err instanceof AppError) || err.code === 'FLOW_EXPIRED') throw err;
      await showVerify(ctx, { error: err });
    }
  });

  router.post('/resend', ...form, pages.load, async (ctx) => {
    try {
      await resendSignUpCode(deps, pages.current(ctx));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return showVerify(ctx, { error: err });
    }
    seeOther(ctx, withLang(ctx, '/signup/verify', { sent: '1' }));
  });

  /**
   * C4: the link of an invitation mail. A new address gets the sign-up form with the address
   * fixed and the company named; an address with an account logs in and accepts on /company/join.
   */
  const tokenOf = (ctx: Context) => (ctx as unknown as { params: { token?: string } }).params.token ?? '';
  const invitationForm = (ctx: Context, open: OpenInvitation): InvitationForm => ({
    token: tokenOf(ctx),
    email: open.invitation.email,
    company: companyName(open.company, negotiateLocale(ctx, deps.config.locales)),
  });
  const hasAccount = async (email: string) => {
    const account = await findAccountByEmail(deps.db, email);
    return account !== undefined && account.status !== 'pending';
  };
  const joinPath = (ctx: Context) => withLang(ctx, `/company/join/${tokenOf(ctx)}`);

  router.get('/invitation/:token', async (ctx) => {
    try {
      const open = await openInvitation(deps.db, deps.invitationPerIp, tokenOf(ctx), requestMeta(ctx, deps.config));
      if (await hasAccount(open.invitation.email)) return seeOther(ctx, joinPath(ctx));
      renderForm(ctx, deps, freshValues(ctx, undefined), undefined, undefined, 200, invitationForm(ctx, open));
    } catch (err) {
      if (!isClosedInvitation(err)) throw err;
      renderInvitationClosed(ctx, deps, err);
    }
  });

  router.post('/invitation/:token', ...form, async (ctx) => {
    const meta = requestMeta(ctx, deps.config);
    let open: OpenInvitation;
    try {
      open = await openInvitation(deps.db, deps.invitationPerIp, tokenOf(ctx), meta);
    } catch (err) {
      if (!isClosedInvitation(err)) throw err;
      return renderInvitationClosed(ctx, deps, err);
    }
    const fields = parseForm(ctx, invitedSignUpForm);
    const input = {
      password: fields.password,
      passwordConfirmation: fields.password_confirmation,
      givenName: fields.given_name,
      familyName: fields.family_name,
      country: fields.country,
    };
    try {
      const done = await signUpByInvitation(deps, open, input, meta);
      renderPage(ctx, deps, 'signup/activated', {
        title: 'signup.activatedTitle',
        email: done.email,
        invitedTo: companyName(open.company, meta.locale),
      });
    } catch (err) {
      if (isClosedInvitation(err)) return renderInvitationClosed(ctx, deps, err);
      if (err instanceof AppError && err.code === 'INVITATION_HAS_ACCOUNT') return seeOther(ctx, joinPath(ctx));
      if (!(err instanceof FormError || err instanceof AppError)) throw err;
      const { password: _p, passwordConfirmation: _c, ...kept } = input;
      renderForm(ctx, deps, kept, err, undefined, undefined, invitationForm(ctx, open));
    }
  });

  /** "Start again": the form again, for the same or another address, and the same login. */
  router.get('/restart', async (ctx) => {
    const login = await pages.loginOfCookie(ctx);
    pages.setCookie(ctx, null);
    seeOther(ctx, withLang(ctx, '/signup', { interaction: login?.uid }));
  });

  return router;
}
