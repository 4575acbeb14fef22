import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { AppError } from '../../http/errors.js';
import { formBody } from '../../http/middleware.js';
import { errorMessage, renderPage, type PageDeps } from '../../http/page.js';
import { setEmailCookie } from '../../interactions/cookies.js';
import { formField } from '../../interactions/context.js';
import { verifyCsrf } from '../../security/csrf.js';
import { openLogin, type OpenLogin } from '../login-link.js';
import { confirmEmailAddress, parseIdentifier, revealEmailAddress, type ForgotEmailDeps } from './service.js';

export interface ForgotEmailRouteDeps extends PageDeps, ForgotEmailDeps {
  provider: Provider;
}

interface FormValues {
  identifier: string;
  /** Set once the identifier is an account ID: the password field appears (E2). */
  accountId?: string;
}

function renderForm(ctx: Context, deps: ForgotEmailRouteDeps, login: OpenLogin | undefined, values: FormValues, error?: AppError): void {
  ctx.set('cache-control', 'no-store');
  renderPage(ctx, deps, 'forgot-email/form', {
    title: 'forgotEmail.title',
    interaction: login?.uid,
    ...values,
    ...errorMessage(error),
  }, { status: error?.status ?? 200, uiLocales: login?.uiLocales, form: true });
}

function renderResult(ctx: Context, deps: ForgotEmailRouteDeps, login: OpenLogin | undefined, data: { email?: string; checked?: string }): void {
  ctx.set('cache-control', 'no-store');
  renderPage(ctx, deps, 'forgot-email/result', { title: 'forgotEmail.title', interaction: login?.uid, ...data }, { uiLocales: login?.uiLocales });
}

/** E1-E4: "Forgot email address?" by account ID and password, or by a possible address. */
export function forgotEmailRoutes(deps: ForgotEmailRouteDeps): Router {
  const router = new Router({ prefix: '/forgot-email' });
  const form = [formBody(deps.config.bodyLimitBytes), verifyCsrf];

  router.get('/', async (ctx) => {
    renderForm(ctx, deps, await openLogin(deps, ctx.query.interaction), { identifier: '' });
  });

  router.post('/', ...form, async (ctx) => {
    const login = await openLogin(deps, formField(ctx, 'interaction'));
    const identifier = formField(ctx, 'identifier').slice(0, 254);
    try {
      const parsed = parseIdentifier(identifier);
      // E2: any account ID, known or not, gets the password field.
      if (parsed.kind === 'accountId') return renderForm(ctx, deps, login, { identifier, accountId: parsed.accountId });
      await confirmEmailAddress(deps, parsed.email, ctx.ip, ctx);
      renderResult(ctx, deps, login, { checked: parsed.email });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      renderForm(ctx, deps, login, { identifier }, err);
    }
  });

  router.post('/password', ...form, async (ctx) => {
    const login = await openLogin(deps, formField(ctx, 'interaction'));
    const values: FormValues = { identifier: formField(ctx, 'identifier').slice(0, 254) };
    try {
      const parsed = parseIdentifier(values.identifier);
      if (parsed.kind !== 'accountId') return renderForm(ctx, deps, login, values);
      values.accountId = parsed.accountId;
      const email = await revealEmailAddress(deps, parsed.accountId, formField(ctx, 'password'), ctx.ip, ctx);
      // Back at the login, the found address is filled in.
      if (login) setEmailCookie(ctx, deps, login.uid, email);
      renderResult(ctx, deps, login, { email });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      renderForm(ctx, deps, login, values, err);
    }
  });

  return router;
}
