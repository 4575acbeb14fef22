import type { Context } from 'koa';
import { AppError } from '../errors.js';
import { rememberDevice } from '../http/device-cookie.js';
import { seeOther } from '../http/page.js';
import type { InteractionDeps } from './context.js';
import { finishInteraction, type Interaction } from './interaction-state.js';

/**
 * The login steps belong to an interaction at the login prompt, or at prompt=create's (whose
 * sign-up ends at the password step); anything else has expired.
 */
export function assertLoginPrompt(interaction: Interaction): void {
  if (interaction.prompt.name !== 'login' && interaction.prompt.name !== 'create')
    throw new AppError('INTERACTION_EXPIRED');
}

/**
 * The end of every successful login: the result handed to oidc-provider. Returns where the
 * browser goes on (the authorization endpoint's resume URL, which the interaction's routes then
 * resume in the same request: resume-here.ts). The login.succeeded audit row is
 * written when oidc-provider applies the result to the session, with the session's index
 * (SessionIndexingAdapter): one statement for both.
 */
export async function loginResult(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  accountId: string,
  amr: readonly string[],
  acr: string,
): Promise<string> {
  // The result replaces the login's progress on the interaction.
  const returnTo = await finishInteraction(
    interaction,
    { login: { accountId, amr: [...amr], acr, remember: true } },
    { mergeWithLastSubmission: false },
  );
  // This browser has now logged in to the account: it is counted apart from strangers next time.
  rememberDevice(ctx, deps, accountId);
  return returnTo;
}

export async function completeLogin(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  accountId: string,
  amr: readonly string[],
  acr: string,
): Promise<void> {
  seeOther(ctx, await loginResult(ctx, deps, interaction, accountId, amr, acr));
}
