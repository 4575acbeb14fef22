import type { Context } from 'koa';
import { AppError } from '../errors.js';
import { z } from 'zod';
import { parseForm, text } from '../http/form.js';
import { errorMessage, noticeCookie, renderPage } from '../http/page.js';
import { withLang } from '../http/url.js';
import { emailProblem, normalizeEmail } from '../identity/accounts/email.js';
import { clientName, type InteractionDeps } from './context.js';
import { assertLoginPrompt } from './finish.js';
import { renderPasswordStep } from './login.js';
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
    },
  );
}

export async function showEmailStep(ctx: Context, deps: InteractionDeps, interaction: Interaction): Promise<void> {
  const hint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : '';
  const change = ctx.query.change !== undefined;
  // "Change" (another address) starts the login over.
  if (change && interaction.result) await saveProgress(interaction, {});
  const email = change ? '' : (progressOf(interaction).email ?? hint);
  // A notice left by the page that sent the user here (e.g. "password changed, log in again").
  const notice =
    ctx.cookies.get(noticeCookie(ctx)) === 'password_changed' ? 'account.passwordChangedNotice' : undefined;
  if (notice) ctx.cookies.set(noticeCookie(ctx), null, { path: '/' });
  await renderEmailStep(ctx, deps, interaction, email, undefined, notice);
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
