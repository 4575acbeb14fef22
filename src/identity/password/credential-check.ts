import type { Config } from '../../config/schema.js';
import type { AccountRow } from '../../db/schema.js';
import type { RequestMeta } from '../../request-meta.js';
import type { DeviceTrust } from '../../security/device-trust.js';
import { credentialSubject } from '../../security/rate-limit/credential-throttle.js';
import { lockAccount, type AccountLockDeps } from '../accounts/lock.js';
import { updateAccount } from '../accounts/repository.js';
import type { PasswordHasher } from './hashing.js';

export interface CredentialCheckDeps extends AccountLockDeps {
  config: Readonly<Config>;
  hasher: PasswordHasher;
  deviceTrust: DeviceTrust;
}

export interface PasswordAttempt {
  /** The account the identifier names, if any (the caller looks it up: by address, ID, session). */
  account: AccountRow | undefined;
  /** What names the account to the user (the address or account ID typed); counted when no account has it. */
  identifier: string;
  password: string;
  ip: string;
  /** The browser's device cookie (src/http/device-cookie.ts), if it has one. */
  device?: string | undefined;
}

/**
 * The one password check behind every place that takes a password (login, the console's
 * re-authentication, forgot-email by account ID, and any later caller).
 *
 * The attempt is counted before bcrypt runs (CredentialThrottle; TOO_MANY_ATTEMPTS or
 * ACCOUNT_LOCKED when a counter is used up or the account is locked, and then no bcrypt at
 * all). bcrypt runs against the account's hash, or a dummy one when there is none, so an unknown
 * account costs the same. A wrong password that is the limit's in a row locks the account
 * (lockAccount). A right one gives the attempt back and has its hash redone if the cost changed.
 *
 * Returns the account when the password is right. Whether that account may use it (its status)
 * is the caller's to decide and to say.
 */
export async function checkPassword(
  deps: CredentialCheckDeps,
  attempt: PasswordAttempt,
  meta?: RequestMeta,
): Promise<AccountRow | undefined> {
  const { account, password } = attempt;
  const counted = await deps.credentialThrottle.begin(credentialSubject(account, attempt.identifier), attempt.ip, {
    device: account && deps.deviceTrust.nonceFor(attempt.device, account.id),
    locked: account?.locked_at != null,
  });
  const hash = account?.password_hash;
  const right = hash ? await deps.hasher.verify(password, hash) : await deps.hasher.verifyAgainstNothing(password);
  if (!account || !hash || !right) {
    if (counted.reachesLock) await lockAccount(deps, account, deps.config.rateLimits.accountLock.failures, meta);
    return undefined;
  }
  await deps.credentialThrottle.succeeded(counted);
  if (deps.hasher.needsRehash(hash)) {
    await updateAccount(deps.db, account.id, { password_hash: await deps.hasher.hash(password) });
  }
  return account;
}
