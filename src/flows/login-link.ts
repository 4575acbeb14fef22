import type Provider from 'oidc-provider';
import { progressOf, saveProgress, type Interaction } from '../interactions/interaction-state.js';

/**
 * Self-service flows (sign-up, password reset, forgot email) can start from a login that an
 * application is waiting on; they carry its interaction uid to return to it afterwards.
 */
export interface OpenLogin {
  uid: string;
  /** The RP's ui_locales: the flow's pages speak the language of the login they came from. */
  uiLocales: unknown;
  /** The address typed at the login's first step, if any. */
  email: string | undefined;
  interaction: Interaction;
}

/** The OIDC interaction to return to, if `uid` names one that is still open. */
export async function openLogin(deps: { provider: Provider }, uid: unknown): Promise<OpenLogin | undefined> {
  if (typeof uid !== 'string' || !/^[\w-]{10,64}$/.test(uid)) return undefined;
  const interaction = await deps.provider.Interaction.find(uid);
  if (!interaction) return undefined;
  return { uid, uiLocales: interaction.params.ui_locales, email: progressOf(interaction).email, interaction };
}

/**
 * The flow is done (account activated, password reset, address found): the login continues at
 * its password step with `email` filled in. Only a login still at its first steps takes it.
 */
export async function continueLoginAs(login: OpenLogin, email: string): Promise<void> {
  if (login.interaction.prompt.name !== 'login' && login.interaction.prompt.name !== 'create') return;
  await saveProgress(login.interaction, { email });
}
