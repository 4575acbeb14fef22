import type { Context } from 'koa';
import type { AppError } from '../errors.js';
import { errorMessage, renderPage } from '../http/page.js';
import { clientName, type InteractionDeps } from './context.js';
import type { Interaction } from './interaction-state.js';

/** After sign-up or a password reset the user lands on the password step with a word on why. */
function passwordStepNotice(ctx: Context): string | undefined {
  if (ctx.query.activated !== undefined) return 'signup.activatedNotice';
  if (ctx.query.reset !== undefined) return 'recovery.doneNotice';
  return undefined;
}

/**
 * The password step. It also answers the email form (a POST) directly, as Keycloak's username
 * form does, instead of redirecting to it: one HTTP exchange and one interaction read fewer per
 * login. Then `address` is the step's own GET address, for the address bar and the language menu.
 */
export async function renderPasswordStep(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  email: string,
  error?: AppError,
  address?: string,
): Promise<void> {
  renderPage(
    ctx,
    deps,
    'interaction/password',
    {
      title: 'login.title',
      uid: interaction.uid,
      email,
      clientName: await clientName(deps, interaction.params.client_id),
      ...errorMessage(error),
      notice: error ? undefined : passwordStepNotice(ctx),
    },
    {
      status: error?.status ?? 200,
      uiLocales: interaction.params.ui_locales,
      form: true,
      address,
    },
  );
}
