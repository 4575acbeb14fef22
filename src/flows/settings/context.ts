import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Db } from '../../db/database.js';
import type { AccountRow } from '../../db/schema.js';
import type { PageDeps } from '../../http/page.js';
import type { DuoHandshake } from '../../identity/factors/duo-handshake.js';
import type { MfaDeps } from '../../identity/factors/mfa.js';
import type { PasskeyDeps } from '../../identity/passkeys/webauthn.js';
import type { FreeMailDomains } from '../../identity/accounts/free-mail.js';
import type { CredentialCheckDeps } from '../../identity/password/credential-check.js';
import type { PasswordHasher } from '../../identity/password/hashing.js';
import type { PasswordPolicy } from '../../identity/password/policy.js';
import type { CodeThrottle } from '../../security/rate-limit/code-throttle.js';
import type { SmsCaps } from '../../security/rate-limit/sms-caps.js';
import type { Logger } from '../../logger.js';
import type { ClientNames } from '../../oidc/clients/repository.js';
import type { AccountRevoker } from '../../oidc/revocation.js';
import type { CodeHasher } from '../../security/codes.js';
import type { SecondFactorThrottle } from '../../security/rate-limit/second-factor-throttle.js';
import type { SecretBox } from '../../security/secret-box.js';

export interface SettingsDeps extends PageDeps, MfaDeps, CredentialCheckDeps {
  provider: Provider;
  db: Db;
  box: SecretBox;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  codes: CodeHasher;
  secondFactorThrottle: SecondFactorThrottle;
  duo: DuoHandshake;
  revoker: AccountRevoker;
  logger: Logger;
  certificationKey: Buffer;
  smsPerAccount: RateLimiterAbstract;
  codeThrottle: CodeThrottle;
  smsCaps: SmsCaps;
  mailQueued: () => void;
  passkeys: PasskeyDeps;
  /** Apps' names from the in-process client cache (no database read, no secret opened). */
  clients: ClientNames;
  /** C2: partners' new addresses are business ones too (support cases, M2). */
  freeMail: FreeMailDomains;
}

/** What every console page knows: who is signed in, through which session. */
export interface SignedIn {
  account: AccountRow;
  sessionId: string;
}

export type SignedInContext = Context & { state: { signedIn: SignedIn } };

/** The account and session behind a console request (set by requireSignIn). */
export function signedIn(ctx: Context): SignedIn {
  return (ctx as SignedInContext).state.signedIn;
}
