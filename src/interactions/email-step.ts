import type { Context, Next } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { AppError } from '../errors.js';
import { z } from 'zod';
import { parseForm, text } from '../http/form.js';
import { errorMessage, noticeCookie, renderPage } from '../http/page.js';
import { withLang } from '../http/url.js';
import { emailProblem, normalizeEmail } from '../identity/accounts/email.js';
import { clientName, type InteractionDeps } from './context.js';
import { assertLoginPrompt } from './finish.js';
import { renderPasswordStep } from './password-page.js';
import { progressOf, saveProgress, type Interaction } from './interaction-state.js';

/** L1: the address (too long for any address, it is refused as such). */
const emailForm = z.object({ email: text(1000) });

/** The login's first step (identifier first): the email address. */
export async function renderEmailStep(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  email: string,
  error?: AppError,
  notice?: string,
  address?: string,
): Promise<void> {
  renderPage(
    ctx,
    deps,
    'interaction/email',
    {
      title: 'login.title',
      uid: interaction.uid,
      email,
      clientName: await clientName(deps, interaction.params.client_id),
      ...errorMessage(error),
      notice,
      passkeyScripts: true,
      // Right after a refusal the autofill is not offered again at once; the button still is.
      passkeyAutofill: error === undefined,
    },
    {
      status: error?.status ?? 200,
      uiLocales: interaction.params.ui_locales,
      form: true,
      languagePath: `/interaction/${interaction.uid}`,
      address,
    },
  );
}

export async function showEmailStep(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  address?: string,
): Promise<void> {
  const hint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : '';
  const change = ctx.query.change !== undefined;
  // "Change" (another address) starts the login over.
  if (change && interaction.result) await saveProgress(interaction, {});
  const email = change ? '' : (progressOf(interaction).email ?? hint);
  // A notice left by the page that sent the user here (e.g. "password changed, log in again").
  const notice =
    ctx.cookies.get(noticeCookie(ctx)) === 'password_changed' ? 'account.passwordChangedNotice' : undefined;
  if (notice) ctx.cookies.set(noticeCookie(ctx), null, { path: '/' });
  await renderEmailStep(ctx, deps, interaction, email, undefined, notice, address);
}

/**
 * Page middleware: an authorization request (GET) that needs a login is answered with the email
 * step itself, as Keycloak's authorization endpoint shows its login form, instead of
 * oidc-provider's redirect to /interaction/:uid: one HTTP exchange and one interaction read
 * fewer per login. The interaction is the one oidc-provider has just saved, and its cookie is
 * set. The page puts /interaction/:uid in the address bar (public/page-address.js), so a reload
 * shows the step instead of starting another authorization request. Other prompts (consent,
 * prompt=create's sign-up) keep the redirect.
 */
export function emailStepAtAuthorization(deps: InteractionDeps) {
  return async (ctx: Context, next: Next): Promise<void> => {
    await next();
    if (ctx.method !== 'GET' || ctx.status !== 303) return;
    const { oidc } = ctx as unknown as Partial<KoaContextWithOIDC>;
    const interaction = oidc?.route === 'authorization' ? oidc.entities.Interaction : undefined;
    if (interaction?.prompt.name !== 'login') return;
    const step = `/interaction/${interaction.uid}`;
    if (ctx.response.get('location') !== step) return;
    ctx.remove('Location');
    await showEmailStep(ctx, deps, interaction, withLang(ctx, step));
  };
}

export async function submitEmail(ctx: Context, deps: InteractionDeps, interaction: Interaction): Promise<void> {
  assertLoginPrompt(interaction);
  const { email: raw } = parseForm(ctx, emailForm);
  const problem = emailProblem(raw);
  if (problem) return renderEmailStep(ctx, deps, interaction, raw.slice(0, 254), new AppError(problem));
  const email = normalizeEmail(raw);
  // A new address starts the login over: nothing passed for another one carries on.
  await saveProgress(interaction, { email });
  await renderPasswordStep(
    ctx,
    deps,
    interaction,
    email,
    undefined,
    withLang(ctx, `/interaction/${interaction.uid}/password`),
  );
}
