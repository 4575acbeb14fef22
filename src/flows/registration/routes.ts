import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { AppError, FormError } from '../../http/errors.js';
import { formBody } from '../../http/middleware.js';
import { errorList, errorMessage, renderPage, seeOther, setSignedCookie, type PageDeps } from '../../http/page.js';
import { negotiateLocale } from '../../http/i18n.js';
import { countryOptions } from '../../identity/accounts/countries.js';
import { setEmailCookie } from '../../interactions/cookies.js';
import { formField } from '../../interactions/context.js';
import { verifyCsrf } from '../../security/csrf.js';
import { codeMinutes, findFlow } from '../flow.js';
import { withLang } from '../../http/url.js';
import { openLogin } from '../login-link.js';
import { resendSignUpCode, startSignUp, verifySignUp, type RegistrationDeps, type SignUpInput } from './service.js';
import type { RegistrationContext } from './state.js';

export interface RegistrationRouteDeps extends PageDeps, RegistrationDeps {
  provider: Provider;
}

const FLOW_COOKIE = 'monban_signup';

function flowCookie(ctx: Context): string | undefined {
  return ctx.cookies.get(FLOW_COOKIE, { signed: true }) || undefined;
}

function setFlowCookie(ctx: Context, deps: RegistrationRouteDeps, flowId: string | null): void {
  setSignedCookie(ctx, deps.config, FLOW_COOKIE, flowId, { path: '/signup', maxAgeMs: deps.config.registration.flowTtlSeconds * 1000 });
}

function flowInteraction(flow: { context: unknown }): string | undefined {
  return (flow.context as Partial<RegistrationContext> | null)?.interaction;
}

function renderForm(ctx: Context, deps: RegistrationRouteDeps, values: Partial<SignUpInput>, error?: FormError | AppError, uiLocales?: unknown): void {
  const locale = negotiateLocale(ctx, deps.config.locales.default, uiLocales);
  const codes = error instanceof FormError ? error.codes : error ? [error.code] : [];
  renderPage(ctx, deps, 'signup/form', {
    title: 'signup.title',
    values,
    interaction: values.interaction,
    countries: countryOptions(locale).map((c) => ({ ...c, selected: c.code === values.country })),
    errors: errorList(error),
    invalid: {
      ...Object.fromEntries(codes.map((code) => [code.split('_')[0]!.toLowerCase(), true])),
      confirmation: codes.includes('PASSWORD_MISMATCH'),
    },
    policy: JSON.stringify(deps.policy.checklist()),
    policyValues: deps.policy.checklist(),
  }, { status: error?.status ?? 200, uiLocales, form: true });
}

function renderVerify(ctx: Context, deps: RegistrationRouteDeps, email: string, options: { error?: AppError; sent?: boolean; uiLocales?: unknown } = {}): void {
  renderPage(ctx, deps, 'signup/verify', {
    title: 'signup.verifyTitle',
    email,
    digits: deps.config.codes.digits,
    minutes: codeMinutes(deps.config.codes),
    sent: options.sent,
    ...errorMessage(options.error),
  }, { status: options.error?.status ?? 200, uiLocales: options.uiLocales, form: true });
}

/** /signup: the sign-up form, the activation-code page, resend and start again (C1-C3). */
export function registrationRoutes(deps: RegistrationRouteDeps): Router {
  const router = new Router({ prefix: '/signup' });
  const form = [formBody(deps.config.bodyLimitBytes), verifyCsrf];

  router.get('/', async (ctx) => {
    const login = await openLogin(deps, ctx.query.interaction);
    renderForm(ctx, deps, { interaction: login?.uid, partner: false }, undefined, login?.uiLocales);
  });

  router.post('/', ...form, async (ctx) => {
    const login = await openLogin(deps, formField(ctx, 'interaction'));
    const uiLocales = login?.uiLocales;
    const input: SignUpInput = {
      email: formField(ctx, 'email').slice(0, 1000),
      password: formField(ctx, 'password'),
      passwordConfirmation: formField(ctx, 'password_confirmation'),
      givenName: formField(ctx, 'given_name').slice(0, 1000),
      familyName: formField(ctx, 'family_name').slice(0, 1000),
      country: formField(ctx, 'country'),
      partner: formField(ctx, 'partner') === 'yes',
      locale: negotiateLocale(ctx, deps.config.locales.default, uiLocales),
      interaction: login?.uid,
    };
    try {
      const flowId = await startSignUp(deps, input, ctx.ip);
      setFlowCookie(ctx, deps, flowId);
      seeOther(ctx, withLang(ctx, '/signup/verify'));
    } catch (err) {
      if (!(err instanceof FormError || err instanceof AppError)) throw err;
      const { password: _p, passwordConfirmation: _c, ...kept } = input;
      renderForm(ctx, deps, kept, err, uiLocales);
    }
  });

  router.get('/verify', async (ctx) => {
    const flow = await currentFlow(ctx, deps);
    if (!flow) return restart(ctx, deps, 'FLOW_EXPIRED');
    renderVerify(ctx, deps, flow.email!, { sent: ctx.query.sent !== undefined, uiLocales: (await openLogin(deps, flowInteraction(flow)))?.uiLocales });
  });

  router.post('/verify', ...form, async (ctx) => {
    const flowId = flowCookie(ctx);
    const flow = await currentFlow(ctx, deps);
    if (!flowId || !flow) return restart(ctx, deps, 'FLOW_EXPIRED');
    try {
      const done = await verifySignUp(deps, flowId, formField(ctx, 'code').slice(0, 64));
      setFlowCookie(ctx, deps, null);
      const interaction = (await openLogin(deps, done.context.interaction))?.uid;
      if (interaction) {
        // Back to the login the user came from, at the password step, address filled in.
        setEmailCookie(ctx, deps, interaction, done.email);
        return seeOther(ctx, withLang(ctx, `/interaction/${interaction}/password`, { activated: '1' }));
      }
      renderPage(ctx, deps, 'signup/activated', { title: 'signup.activatedTitle', email: done.email });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === 'FLOW_EXPIRED') return restart(ctx, deps, 'FLOW_EXPIRED');
      renderVerify(ctx, deps, flow.email!, { error: err, uiLocales: (await openLogin(deps, flowInteraction(flow)))?.uiLocales });
    }
  });

  router.post('/resend', ...form, async (ctx) => {
    const flowId = flowCookie(ctx);
    const flow = await currentFlow(ctx, deps);
    if (!flowId || !flow) return restart(ctx, deps, 'FLOW_EXPIRED');
    try {
      await resendSignUpCode(deps, flowId);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return renderVerify(ctx, deps, flow.email!, { error: err, uiLocales: (await openLogin(deps, flowInteraction(flow)))?.uiLocales });
    }
    seeOther(ctx, withLang(ctx, '/signup/verify', { sent: '1' }));
  });

  /** "Start again": the form again, for the same or another address. */
  router.get('/restart', async (ctx) => restart(ctx, deps));

  return router;
}

async function currentFlow(ctx: Context, deps: RegistrationRouteDeps) {
  const flowId = flowCookie(ctx);
  if (!flowId) return undefined;
  const flow = await findFlow(deps.db, flowId, 'registration');
  return flow?.state === 'awaiting_code' ? flow : undefined;
}

/** An expired or finished flow starts over with a message instead of failing (DESIGN.md). */
async function restart(ctx: Context, deps: RegistrationRouteDeps, reason?: 'FLOW_EXPIRED'): Promise<void> {
  const flowId = flowCookie(ctx);
  const flow = flowId ? await findFlow(deps.db, flowId, 'registration') : undefined;
  const login = await openLogin(deps, (flow ? flowInteraction(flow) : undefined) ?? ctx.query.interaction);
  const interaction = login?.uid;
  setFlowCookie(ctx, deps, null);
  if (reason) return renderForm(ctx, deps, { interaction, partner: false }, new AppError(reason, 200), login?.uiLocales);
  seeOther(ctx, withLang(ctx, '/signup', { interaction }));
}
