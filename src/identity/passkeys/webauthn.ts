import { createHmac } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Config } from '../../config/schema.js';
import { enqueueAccountMail } from '../../courier/outbox.js';
import type { Db } from '../../db/database.js';
import type { AccountRow } from '../../db/schema.js';
import { AppError } from '../../errors.js';
import type { RequestMeta } from '../../request-meta.js';
import { recordAudit } from '../../security/audit.js';
import { limiterKey } from '../../security/rate-limit/limiters.js';
import type { SecretBox } from '../../security/secret-box.js';
import { findAccountById } from '../accounts/repository.js';
import type { PasskeyChallenges } from './challenges.js';
import { makeOf } from './makes.js';
import {
  deletePasskey,
  findPasskeyByCredentialId,
  insertPasskey,
  listPasskeys,
  recordPasskeyUse,
  renamePasskey,
  type PasskeyRow,
} from './repository.js';

export interface PasskeyDeps {
  db: Db;
  box: SecretBox;
  config: Readonly<Pick<Config, 'issuer' | 'passkeys'>>;
  challenges: PasskeyChallenges;
  /** Keys the user handle authenticators keep beside a passkey. */
  passkeyUserKey: Buffer;
  mailQueued: () => void;
}

/** Counts an attempt before anything is checked (TOO_MANY_ATTEMPTS); a success clears the account's. */
export interface AttemptThrottle {
  begin(accountKey: string, ip: string): Promise<void>;
  succeeded(accountKey: string): Promise<void>;
}

/**
 * The relying party is the issuer: its host is the rpID and its origin the only one accepted
 * (WebAuthn L3 5.1.4.1, 7.1 steps 9 and 13), never the request's Host header.
 */
export function relyingParty(issuer: string): { rpID: string; origin: string } {
  const url = new URL(issuer);
  return { rpID: url.hostname, origin: url.origin };
}

/**
 * The user handle (WebAuthn L3 14.6.1: no personal data): an HMAC of the account id, so the same
 * account always has the same handle and an authenticator replaces, not adds, its passkey.
 */
function userHandle(deps: PasskeyDeps, accountId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHmac('sha256', deps.passkeyUserKey).update(accountId).digest());
}

export const MAX_NAME_LENGTH = 64;

/** A passkey's name as typed: trimmed, at most 64 characters; empty falls back to the make. */
export function passkeyName(typed: string, aaguid?: string): string {
  const name = typed.normalize('NFKC').trim().slice(0, MAX_NAME_LENGTH);
  if (name) return name;
  return (aaguid && makeOf(aaguid)) || 'Passkey';
}

/** What the browser sent back, checked for shape only; the library checks everything else. */
function parseJson(raw: string): { id: string; rawId: string; type: 'public-key'; response: object } {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new AppError('PASSKEY_NOT_ACCEPTED');
  }
  const v = value as { id?: unknown; rawId?: unknown; type?: unknown; response?: unknown };
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof v.id !== 'string' ||
    v.id.length > 1400 ||
    v.rawId !== v.id ||
    v.type !== 'public-key' ||
    typeof v.response !== 'object' ||
    v.response === null
  ) {
    throw new AppError('PASSKEY_NOT_ACCEPTED');
  }
  return value as { id: string; rawId: string; type: 'public-key'; response: object };
}

/** Options for navigator.credentials.create(): a discoverable, user-verified passkey. */
export async function registrationOptions(
  deps: PasskeyDeps,
  account: AccountRow,
  binding: string,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const existing = await listPasskeys(deps.db, account.id);
  const { rpID } = relyingParty(deps.config.issuer);
  return generateRegistrationOptions({
    rpName: deps.config.passkeys.rpName,
    rpID,
    userName: account.email,
    userDisplayName: `${account.given_name} ${account.family_name}`.trim() || account.email,
    userID: userHandle(deps, account.id),
    challenge: Buffer.from(await deps.challenges.issue(binding), 'base64url'),
    timeout: deps.config.passkeys.challengeSeconds * 1000,
    attestationType: 'none',
    // The same authenticator twice would be one passkey under two names.
    excludeCredentials: existing.map((p) => ({
      id: p.credential_id,
      transports: p.transports as AuthenticatorTransport[],
    })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
  });
}

/**
 * Verifies a new passkey against a challenge of `binding` (used up here) and stores it under
 * `name`; audited, and the owner gets a notice. PASSKEY_NOT_ACCEPTED for anything that does not
 * verify (wrong origin or rpID, no user verification, a used or foreign challenge).
 */
export async function registerPasskey(
  deps: PasskeyDeps,
  account: AccountRow,
  binding: string,
  rawResponse: string,
  typedName: string,
  meta: RequestMeta,
  /**
   * Made by conditional create (WebAuthn L3 5.1.3, mediation "conditional") right after a password
   * login: the authenticator may leave the UP and UV flags clear, as no dialog was shown. Every
   * sign-in with the passkey still requires user verification.
   */
  { conditional = false }: { conditional?: boolean } = {},
): Promise<PasskeyRow> {
  const response = parseJson(rawResponse) as RegistrationResponseJSON;
  const { rpID, origin } = relyingParty(deps.config.issuer);
  let verified;
  try {
    verified = await verifyRegistrationResponse({
      response,
      expectedChallenge: (challenge) => deps.challenges.take(binding, challenge),
      expectedOrigin: origin,
      expectedRPID: rpID,
      requireUserPresence: !conditional,
      requireUserVerification: !conditional,
    });
  } catch {
    throw new AppError('PASSKEY_NOT_ACCEPTED');
  }
  if (!verified.verified) throw new AppError('PASSKEY_NOT_ACCEPTED');
  const info = verified.registrationInfo;
  const row = await deps.db.transaction().execute(async (trx) => {
    const stored = await insertPasskey(trx, {
      accountId: account.id,
      credentialId: info.credential.id,
      publicKey: info.credential.publicKey,
      counter: info.credential.counter,
      transports: info.credential.transports ?? [],
      aaguid: info.aaguid,
      name: passkeyName(typedName, info.aaguid),
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
    });
    if (!stored) return undefined;
    await recordAudit(
      trx,
      { type: 'passkey.added', accountId: account.id, details: { passkey: stored.id, aaguid: stored.aaguid } },
      meta,
    );
    await enqueueAccountMail(trx, deps.box, account, 'security-notice', {
      notice: 'passkeyAdded',
      passkey: stored.name,
    });
    return stored;
  });
  if (!row) throw new AppError('PASSKEY_ALREADY_REGISTERED');
  deps.mailQueued();
  return row;
}

/**
 * Options for navigator.credentials.get(). With an account (the second step after a password):
 * its passkeys and security keys. Without (the first and only factor): none listed, so the
 * browser offers the discoverable passkeys it holds for this rpID.
 */
export async function authenticationOptions(
  deps: PasskeyDeps,
  binding: string,
  account?: { id: string },
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { rpID } = relyingParty(deps.config.issuer);
  const allow = account ? await listPasskeys(deps.db, account.id) : [];
  return generateAuthenticationOptions({
    rpID,
    challenge: Buffer.from(await deps.challenges.issue(binding), 'base64url'),
    timeout: deps.config.passkeys.challengeSeconds * 1000,
    userVerification: 'required',
    ...(account
      ? {
          allowCredentials: allow.map((p) => ({
            id: p.credential_id,
            transports: p.transports as AuthenticatorTransport[],
          })),
        }
      : {}),
  });
}

export interface PasskeyLogin {
  account: AccountRow;
  passkey: PasskeyRow;
  /** RFC 8176 methods: hwk for a key bound to one device, swk for a synced one; user for user verification. */
  amr: string[];
}

/**
 * Checks a passkey's answer to a challenge of `binding`. The attempt is counted first (per IP,
 * and per account of the credential named, or per unknown credential ID), so parallel guesses
 * stop at the limit before any signature is checked. Refusals: PASSKEY_UNKNOWN (no such
 * credential, or another account's when `accountId` is given), PASSKEY_NOT_ACCEPTED (signature,
 * origin, rpID, challenge, user verification), PASSKEY_COUNTER (the signature counter went
 * backwards: a cloned authenticator, WebAuthn L3 6.1.1), TOO_MANY_ATTEMPTS. Each is audited.
 */
export async function verifyPasskey(
  deps: PasskeyDeps,
  throttle: AttemptThrottle,
  binding: string,
  rawResponse: string,
  meta: RequestMeta,
  expected: { accountId?: string } = {},
): Promise<PasskeyLogin> {
  const response = parseJson(rawResponse) as AuthenticationResponseJSON;
  const passkey = await findPasskeyByCredentialId(deps.db, response.id);
  // The second step counts against the account whose password was right, whatever key is shown.
  const accountId = expected.accountId ?? passkey?.account_id;
  const refuse = async (code: 'PASSKEY_UNKNOWN' | 'PASSKEY_NOT_ACCEPTED' | 'PASSKEY_COUNTER', details = {}) => {
    await recordAudit(
      deps.db,
      {
        type: code === 'PASSKEY_COUNTER' ? 'passkey.counter_regression' : 'passkey.failed',
        accountId: accountId ?? null,
        details: { reason: code, ...details },
      },
      meta,
    );
    return new AppError(code);
  };
  const throttleKey = accountId ?? `credential:${limiterKey(response.id)}`;
  try {
    await throttle.begin(throttleKey, meta.ip);
  } catch (err) {
    if (err instanceof AppError) {
      await recordAudit(deps.db, { type: 'passkey.throttled', accountId: accountId ?? null }, meta);
    }
    throw err;
  }
  if (!passkey || (expected.accountId && passkey.account_id !== expected.accountId)) {
    throw await refuse('PASSKEY_UNKNOWN');
  }
  const { rpID, origin } = relyingParty(deps.config.issuer);
  let verified;
  try {
    verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge: (challenge) => deps.challenges.take(binding, challenge),
      expectedOrigin: origin,
      expectedRPID: rpID,
      // The counter is checked below, atomically against parallel uses of the same passkey.
      credential: {
        id: passkey.credential_id,
        publicKey: new Uint8Array(passkey.public_key),
        counter: 0,
        transports: passkey.transports,
      },
      requireUserVerification: true,
    });
  } catch {
    throw await refuse('PASSKEY_NOT_ACCEPTED');
  }
  if (!verified.verified) throw await refuse('PASSKEY_NOT_ACCEPTED');
  const info = verified.authenticationInfo;
  const moved = await recordPasskeyUse(deps.db, passkey, {
    counter: info.newCounter,
    backedUp: info.credentialBackedUp,
  });
  if (!moved) throw await refuse('PASSKEY_COUNTER', { passkey: passkey.id, counter: info.newCounter });
  await throttle.succeeded(passkey.account_id);
  const account = await findAccountById(deps.db, passkey.account_id);
  if (!account) throw await refuse('PASSKEY_UNKNOWN');
  return {
    account,
    passkey,
    amr: [info.credentialDeviceType === 'multiDevice' ? 'swk' : 'hwk', ...(info.userVerified ? ['user'] : [])],
  };
}

/** Renames one of the account's passkeys; false when it is not the account's. */
export async function renameAccountPasskey(
  deps: PasskeyDeps,
  accountId: string,
  id: string,
  typedName: string,
  meta: RequestMeta,
): Promise<boolean> {
  const name = typedName.normalize('NFKC').trim().slice(0, MAX_NAME_LENGTH);
  if (!name) throw new AppError('PASSKEY_NAME_REQUIRED');
  const renamed = await renamePasskey(deps.db, accountId, id, name);
  if (renamed) await recordAudit(deps.db, { type: 'passkey.renamed', accountId, details: { passkey: id } }, meta);
  return renamed;
}

/** Removes one of the account's passkeys (it stops working at once); audited, with a notice. */
export async function removePasskey(
  deps: PasskeyDeps,
  account: AccountRow,
  id: string,
  meta: RequestMeta,
): Promise<boolean> {
  const removed = await deps.db.transaction().execute(async (trx) => {
    const row = await deletePasskey(trx, account.id, id);
    if (!row) return false;
    await recordAudit(trx, { type: 'passkey.removed', accountId: account.id, details: { passkey: row.id } }, meta);
    await enqueueAccountMail(trx, deps.box, account, 'security-notice', {
      notice: 'passkeyRemoved',
      passkey: row.name,
    });
    return true;
  });
  if (removed) deps.mailQueued();
  return removed;
}
