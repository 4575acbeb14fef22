import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { AppError } from '../../errors.js';
import { formBody } from '../../http/middleware.js';
import { requestMeta } from '../../http/request-meta.js';
import { errorMessage, renderPage, type PageDeps } from '../../http/page.js';
import { z } from 'zod';
import { parseForm, password, text } from '../../http/form.js';
import { verifyCsrf } from '../../http/csrf.js';
import { continueLoginAs, openLogin, type OpenLogin } from '../login-link.js';
import {
  confirmEmailAddress,
  parseIdentifier,
  revealEmailAddress,
  type ForgotEmailDeps,
  type Identifier,
} from './service.js';
import { withParams } from '../../text/views.js';

export interface ForgotEmailRouteDeps extends PageDeps, ForgotEmailDeps {
  provider: Provider;
}

interface FormValues {
  identifier: string;
  /** Set once the identifier is an account ID: the password field appears (E2). */
  accountId?: string;
}

function renderForm(
  ctx: Context,
  deps: ForgotEmailRouteDeps,
  login: OpenLogin | undefined,
  values: FormValues,
  error?: AppError,
): void {
  ctx.set('cache-control', 'no-store');
  renderPage(
    ctx,
    deps,
    'forgot-email/form',
    {
      title: 'forgotEmail.title',
      interaction: login?.uid,
      ...values,
      ...errorMessage(error),
    },
    {
      status: error?.status ?? 200,
      uiLocales: login?.uiLocales,
      form: true,
      // The password step comes back with its account ID in the other language.
      languagePath: withParams('/forgot-email', {
        interaction: login?.uid,
        account_id: values.accountId,
      }),
    },
  );
}

function renderResult(
  ctx: Context,
  deps: ForgotEmailRouteDeps,
  login: OpenLogin | undefined,
  data: { email?: string; checked?: string },
): void {
  ctx.set('cache-control', 'no-store');
  renderPage(
    ctx,
    deps,
    'forgot-email/result',
    { title: 'forgotEmail.title', interaction: login?.uid, ...data },
    { uiLocales: login?.uiLocales, languagePath: withParams('/forgot-email', { interaction: login?.uid }) },
  );
}

function identifierOrUndefined(input: string): Identifier | undefined {
  try {
    return parseIdentifier(input);
  } catch {
    return undefined;
  }
}

/** E1: an account ID or an address. */
const identifierForm = z.object({ interaction: text(200), identifier: text(254) });
/** E2: an account ID and its password. */
const passwordForm = identifierForm.extend({ password: password() });

/** E1-E4: "Forgot email address?" by account ID and password, or by a possible address. */
export function forgotEmailRoutes(deps: ForgotEmailRouteDeps): Router {
  const router = new Router({ prefix: '/forgot-email' });
  const form = [formBody(deps.config.bodyLimitBytes), verifyCsrf];

  router.get('/', async (ctx) => {
    const login = await openLogin(deps, ctx.query.interaction);
    // ?account_id=: the password step for that ID (the language menu of that step leads here).
    // Any well-formed ID gets it, as from the form: nothing is looked up.
    const typed = typeof ctx.query.account_id === 'string' ? ctx.query.account_id.slice(0, 254) : '';
    const parsed = typed ? identifierOrUndefined(typed) : undefined;
    if (parsed?.kind === 'accountId') {
      return renderForm(ctx, deps, login, { identifier: typed, accountId: parsed.accountId });
    }
    renderForm(ctx, deps, login, { identifier: '' });
  });

  router.post('/', ...form, async (ctx) => {
    const { interaction, identifier } = parseForm(ctx, identifierForm);
    const login = await openLogin(deps, interaction);
    try {
      const parsed = parseIdentifier(identifier);
      // E2: any account ID, known or not, gets the password field.
      if (parsed.kind === 'accountId') return renderForm(ctx, deps, login, { identifier, accountId: parsed.accountId });
      await confirmEmailAddress(deps, parsed.email, requestMeta(ctx, deps.config, login?.uiLocales));
      renderResult(ctx, deps, login, { checked: parsed.email });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      renderForm(ctx, deps, login, { identifier }, err);
    }
  });

  router.post('/password', ...form, async (ctx) => {
    const fields = parseForm(ctx, passwordForm);
    const login = await openLogin(deps, fields.interaction);
    const values: FormValues = { identifier: fields.identifier };
    try {
      const parsed = parseIdentifier(values.identifier);
      if (parsed.kind !== 'accountId') return renderForm(ctx, deps, login, values);
      values.accountId = parsed.accountId;
      const email = await revealEmailAddress(
        deps,
        parsed.accountId,
        fields.password,
        requestMeta(ctx, deps.config, login?.uiLocales),
      );
      // Back at the login, the found address is filled in.
      if (login) await continueLoginAs(login, email);
      renderResult(ctx, deps, login, { email });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      renderForm(ctx, deps, login, values, err);
    }
  });

  return router;
}
