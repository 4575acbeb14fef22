import type { Context } from 'koa';
import { AppError } from '../errors.js';
import type { AccountRow } from '../db/schema.js';
import { z } from 'zod';
import { checkbox, parseForm, text } from '../http/form.js';
import { errorMessage, renderPage, scriptJson, seeOther } from '../http/page.js';
import { withLang } from '../http/url.js';
import { findAccountById, updateAccount } from '../identity/accounts/repository.js';
import { countPasskeys } from '../identity/passkeys/repository.js';
import { registerPasskey, registrationOptions } from '../identity/passkeys/webauthn.js';
import { clientName, interactionMeta, type InteractionDeps } from './context.js';
import { renderEmailStep } from './email-step.js';
import { assertLoginPrompt, loginResult } from './finish.js';
import { progressOf, saveProgress, type Interaction } from './interaction-state.js';

/** The offer's challenges serve only this login. */
const offerBinding = (uid: string) => `offer:${uid}`;

/** The authenticator's answer (JSON, bounded by the body limit); `auto`: made by the browser unasked. */
const offerForm = z.object({ response: text(200_000), auto: checkbox('1') });
const offerPath = (uid: string) => `/interaction/${uid}/passkey-offer`;

/** Whether to offer a passkey to an account that just logged in with its password. */
async function offerDue(
  deps: InteractionDeps,
  account: AccountRow & { has_passkey?: boolean },
  now = new Date(),
): Promise<boolean> {
  if (!deps.config.passkeys.upgradePrompt || account.passkey_prompt_never) return false;
  if (account.passkey_prompt_snoozed_until && account.passkey_prompt_snoozed_until > now) return false;
  return !(account.has_passkey ?? (await countPasskeys(deps.db, account.id)) > 0);
}

/**
 * The end of a password login (with its second factor, if any). Issue 17's upgrade prompt: an
 * account without a passkey that has not said "never" (nor "not now" within promptSnoozeDays) is
 * first offered one, with the finished login kept on the interaction until the user answers.
 * Returns where the browser goes on.
 */
export async function finishPasswordLogin(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  account: AccountRow & { has_passkey?: boolean },
  amr: readonly string[],
  acr: string,
): Promise<string> {
  if (!(await offerDue(deps, account))) return loginResult(ctx, deps, interaction, account.id, amr, acr);
  await saveProgress(interaction, {
    ...progressOf(interaction),
    passwordPassed: undefined,
    duo: undefined,
    offer: { accountId: account.id, amr: [...amr], acr },
  });
  return withLang(ctx, offerPath(interaction.uid));
}

type OfferStep = (
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  account: AccountRow,
  offer: { amr: string[]; acr: string },
) => Promise<void>;

/** Every route of the offer: a login interaction waiting on it, for an account that may still log in. */
export function offerStep(step: OfferStep) {
  return async (ctx: Context, deps: InteractionDeps, interaction: Interaction): Promise<void> => {
    assertLoginPrompt(interaction);
    const { offer, email = '' } = progressOf(interaction);
    const account = offer && (await findAccountById(deps.db, offer.accountId));
    if (!offer || account?.status !== 'active') {
      return renderEmailStep(ctx, deps, interaction, email, new AppError('INTERACTION_EXPIRED'));
    }
    await step(ctx, deps, interaction, account, offer);
  };
}

async function renderOffer(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  account: AccountRow,
  error?: AppError,
): Promise<void> {
  ctx.set('cache-control', 'no-store');
  const options = await registrationOptions(deps.passkeys, account, offerBinding(interaction.uid));
  renderPage(
    ctx,
    deps,
    'interaction/passkey-offer',
    {
      title: 'passkeyOffer.title',
      uid: interaction.uid,
      email: account.email,
      clientName: await clientName(deps, interaction.params.client_id),
      options: scriptJson(options),
      snoozeDays: deps.config.passkeys.promptSnoozeDays,
      passkeyScripts: true,
      ...errorMessage(error),
    },
    { status: error?.status ?? 200, uiLocales: interaction.params.ui_locales, form: true },
  );
}

/** GET /interaction/:uid/passkey-offer */
export const showOffer: OfferStep = (ctx, deps, interaction, account) => renderOffer(ctx, deps, interaction, account);

async function finish(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  account: AccountRow,
  offer: { amr: string[]; acr: string },
): Promise<void> {
  seeOther(ctx, await loginResult(ctx, deps, interaction, account.id, offer.amr, offer.acr));
}

/**
 * POST /interaction/:uid/passkey-offer: the new passkey (from the button, or made by conditional
 * create without a dialog), then on to the application. The login keeps the methods it was made
 * with: the passkey is used from the next login on.
 */
export const acceptOffer: OfferStep = async (ctx, deps, interaction, account, offer) => {
  const { response, auto } = parseForm(ctx, offerForm);
  try {
    await registerPasskey(
      deps.passkeys,
      account,
      offerBinding(interaction.uid),
      response,
      '',
      interactionMeta(ctx, deps, interaction),
      { conditional: auto },
    );
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return renderOffer(ctx, deps, interaction, account, err);
  }
  await finish(ctx, deps, interaction, account, offer);
};

/** POST /interaction/:uid/passkey-offer/later: "not now" asks again after promptSnoozeDays. */
export const snoozeOffer: OfferStep = async (ctx, deps, interaction, account, offer) => {
  const until = new Date(Date.now() + deps.config.passkeys.promptSnoozeDays * 86_400_000);
  await updateAccount(deps.db, account.id, { passkey_prompt_snoozed_until: until });
  await finish(ctx, deps, interaction, account, offer);
};

/** POST /interaction/:uid/passkey-offer/never: the offer is not made again (a passkey can still be added in the console). */
export const declineOffer: OfferStep = async (ctx, deps, interaction, account, offer) => {
  await updateAccount(deps.db, account.id, { passkey_prompt_never: true });
  await finish(ctx, deps, interaction, account, offer);
};
