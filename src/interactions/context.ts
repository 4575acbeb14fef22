import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Db } from '../db/database.js';
import type { PageDeps } from '../http/page.js';
import { requestMeta } from '../http/request-meta.js';
import type { DuoHandshake } from '../identity/factors/duo-handshake.js';
import type { EmailChangeDeps } from '../identity/companies/email-change.js';
import type { RecentAccounts } from '../identity/accounts/recent.js';
import type { MfaDeps } from '../identity/factors/mfa.js';
import type { PasskeyDeps } from '../identity/passkeys/webauthn.js';
import type { CredentialCheckDeps } from '../identity/password/credential-check.js';
import type { Logger } from '../logger.js';
import { ACCOUNT_CLIENT_ID, ACCOUNT_CLIENT_NAME } from '../oidc/account-client.js';
import type { ClientNames } from '../oidc/clients/repository.js';
import type { RequestMeta } from '../request-meta.js';
import type { SecondFactorThrottle } from '../security/rate-limit/second-factor-throttle.js';
import type { Interaction } from './interaction-state.js';

export interface InteractionDeps extends PageDeps, MfaDeps, CredentialCheckDeps {
  provider: Provider;
  db: Db;
  secondFactorThrottle: SecondFactorThrottle;
  duo: DuoHandshake;
  logger: Logger;
  /** Where a login leaves the account it read, for oidc-provider's findAccount moments later. */
  recentAccounts: RecentAccounts;
  passkeys: PasskeyDeps;
  /** Counts passkey sign-ins (without a password) before any signature is checked. */
  passkeyThrottle: SecondFactorThrottle;
  clients: ClientNames;
  /** Address changes by company admins: the held member enters the code from the new address here. */
  emailChange: EmailChangeDeps;
  /** Nudges the courier after a mail was queued. */
  mailQueued: () => void;
}

/** The request as the code below sees it, in the language of the RP's ui_locales. */
export function interactionMeta(ctx: Context, deps: InteractionDeps, interaction: Interaction): RequestMeta {
  return requestMeta(ctx, deps.config, interaction.params.ui_locales);
}

/** The name of the application the user logs in to, as the login pages show it. */
export async function clientName(deps: InteractionDeps, clientId: unknown): Promise<string | undefined> {
  if (typeof clientId !== 'string') return undefined;
  // The console is a static client of oidc-provider, not a row of oidc_clients.
  return clientId === ACCOUNT_CLIENT_ID ? ACCOUNT_CLIENT_NAME : deps.clients.displayName(clientId);
}
