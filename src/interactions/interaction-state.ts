import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { PendingDuo } from '../identity/factors/duo-handshake.js';

export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * How far a login has come between its pages, on oidc-provider's interaction record (in its
 * `result`, which oidc-provider reads only once the login is finished and which the finished
 * login replaces). The record lives in the provider's store with the interaction's lifetime and
 * is reached only with the interaction's own cookie, so the state is this browser's and this
 * login's, and another login in another tab is apart.
 */
export const LoginProgress = z.object({
  /** L1 identifier first: the address from step 1 waits for step 2. */
  email: z.string().optional(),
  /** L3: the account whose password was right, and when (ms); its second factor is due within mfa.stepSeconds. */
  passwordPassed: z.object({ accountId: z.string(), at: z.number() }).optional(),
  /** The login's trip to Duo's prompt, while the browser is there. */
  duo: PendingDuo.optional(),
  /**
   * M4: the right password of an account held for an address change by its company; the code
   * from the new address is due (src/interactions/email-change.ts).
   */
  emailChange: z
    .object({ accountId: z.string(), at: z.number(), passkeyAmr: z.array(z.string()).optional() })
    .optional(),
  /** Issue 17: the password login is done and waits on the offer of a passkey (its result, kept here until then). */
  offer: z.object({ accountId: z.string(), amr: z.array(z.string()), acr: z.string() }).optional(),
});
export type LoginProgress = z.infer<typeof LoginProgress>;

const PROGRESS_KEY = 'monbanLogin';

/** The login's progress on an interaction record; anything unreadable counts as a fresh start. */
export function progressOf(interaction: Interaction): LoginProgress {
  const parsed = LoginProgress.safeParse(interaction.result?.[PROGRESS_KEY] ?? {});
  return parsed.success ? parsed.data : {};
}

/** Stores the record as it is, for the rest of its lifetime (one write). */
async function persist(interaction: Interaction): Promise<void> {
  const ttl = interaction.exp - Math.floor(Date.now() / 1000);
  if (ttl <= 0) throw new AppError('INTERACTION_EXPIRED');
  await interaction.save(ttl);
}

/** Replaces the login's progress on the record and stores it. */
export async function saveProgress(interaction: Interaction, progress: LoginProgress): Promise<void> {
  interaction.result = { [PROGRESS_KEY]: progress };
  await persist(interaction);
}

/**
 * Hands oidc-provider the interaction's result, as provider.interactionResult does, on the record
 * this request loaded (interactionResult would read it, and its session, again). Returns where
 * the browser goes on: the authorization endpoint's resume URL.
 */
export async function finishInteraction(
  interaction: Interaction,
  result: InteractionResults,
  { mergeWithLastSubmission }: { mergeWithLastSubmission: boolean },
): Promise<string> {
  interaction.result =
    mergeWithLastSubmission && !('error' in result) ? { ...interaction.lastSubmission, ...result } : result;
  await persist(interaction);
  return interaction.returnTo;
}

interface InteractionState {
  interaction?: Interaction;
}

/**
 * Middleware on every /interaction/:uid route: the interaction of this browser's cookie (and its
 * session, which oidc-provider checks), read once per request into ctx.state. A missing or
 * expired interaction is oidc-provider's SessionNotFound; one for another uid is expired too.
 */
export function loadInteraction(provider: Provider) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const interaction = await provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== (ctx.params as { uid?: string }).uid) throw new AppError('INTERACTION_EXPIRED');
    (ctx.state as InteractionState).interaction = interaction;
    await next();
  };
}

/** The interaction loadInteraction put on this request. */
export function currentInteraction(ctx: Context): Interaction {
  const interaction = (ctx.state as InteractionState).interaction;
  if (!interaction) throw new Error('loadInteraction must run before this route');
  return interaction;
}
