import type Provider from 'oidc-provider';

/**
 * Self-service flows (sign-up, password reset, forgot email) can start from a login that an
 * application is waiting on; they carry its interaction uid to return to it afterwards.
 */
export interface OpenLogin {
  uid: string;
  /** The RP's ui_locales: the flow's pages speak the language of the login they came from. */
  uiLocales: unknown;
}

/** The OIDC interaction to return to, if `uid` names one that is still open. */
export async function openLogin(deps: { provider: Provider }, uid: unknown): Promise<OpenLogin | undefined> {
  if (typeof uid !== 'string' || !/^[\w-]{10,64}$/.test(uid)) return undefined;
  const interaction = await deps.provider.Interaction.find(uid);
  return interaction ? { uid, uiLocales: interaction.params.ui_locales } : undefined;
}
