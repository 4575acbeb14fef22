import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { Secret } from 'otpauth';
import speakeasy from 'speakeasy';
import type { Db } from '../../db/database.js';
import type { SecretBox } from '../../security/secret-box.js';

const STEP_SECONDS = 30;
const DIGITS = 6;
/** RFC 6238 5.2: allow one step of clock drift either way, no more. */
const WINDOW = 1;

export const sealContext = (accountId: string) => `totp:${accountId}`;

export interface NewTotpSecret {
  /** Base32, for people who type it into their app instead of scanning. */
  base32: string;
  /** otpauth:// URI for the QR code (issuer Monban, label the account's address). */
  otpauthUrl: string;
  /** What is stored: the secret sealed with AES-GCM, bound to the account. */
  sealed: string;
}

function otpauthUrl(base32: string, email: string, issuer: string): string {
  return speakeasy.otpauthURL({
    secret: base32,
    encoding: 'base32',
    label: `${issuer}:${email}`,
    issuer,
    algorithm: 'sha1',
    digits: DIGITS,
    period: STEP_SECONDS,
  });
}

/** RFC 4226 4 (R6): a shared secret of at least 128 bits; 160 recommended. */
const SECRET_BYTES = 20;

/**
 * A fresh TOTP secret: 20 bytes from the operating system's CSPRNG, base32-encoded (RFC 4648)
 * for the app. Not speakeasy.generateSecret, which draws 20 *printable characters* from an
 * 83-symbol set (about 127 bits) and base32-encodes those characters.
 */
export function newTotpSecret(box: SecretBox, accountId: string, email: string, issuer = 'Monban'): NewTotpSecret {
  const { base32 } = new Secret({ buffer: new Uint8Array(randomBytes(SECRET_BYTES)).buffer });
  return {
    base32,
    otpauthUrl: otpauthUrl(base32, email, issuer),
    sealed: box.seal(base32, sealContext(accountId)),
  };
}

/** The same secret again (setup page reloaded): what the app needs, from the sealed value. */
export function describeTotpSecret(
  box: SecretBox,
  accountId: string,
  email: string,
  sealed: string,
  issuer = 'Monban',
) {
  const base32 = box.openText(sealed, sealContext(accountId));
  return { base32, otpauthUrl: otpauthUrl(base32, email, issuer) };
}

/**
 * The time step a code belongs to, if it is valid now (within one step of drift), else
 * undefined. Whether that step was already used is checked by `claimTotpStep`.
 */
export function totpStepFor(
  box: SecretBox,
  accountId: string,
  sealed: string,
  code: string,
  now = Date.now(),
): number | undefined {
  const token = code.normalize('NFKC').replace(/\s+/g, '');
  if (!/^\d{6}$/.test(token)) return undefined;
  const secret = box.openText(sealed, sealContext(accountId));
  const time = Math.floor(now / 1000);
  const delta = speakeasy.totp.verifyDelta({
    secret,
    encoding: 'base32',
    token,
    window: WINDOW,
    time,
    step: STEP_SECONDS,
    digits: DIGITS,
  });
  if (!delta) return undefined;
  return Math.floor(time / STEP_SECONDS) + delta.delta;
}

/**
 * Marks a time step used for a factor, atomically: of two parallel submits of the same code (or
 * a replay later), exactly one succeeds, and an older step is never accepted after a newer one.
 */
export async function claimTotpStep(db: Db, factorId: string, step: number): Promise<boolean> {
  const row = await db
    .updateTable('mfa_factors')
    .set({ last_used_step: step })
    .where('id', '=', factorId)
    .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', sql<string>`${step}::bigint`)]))
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}
