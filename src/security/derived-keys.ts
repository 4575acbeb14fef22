import { createSecretKey } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { Keyring, KeyList, KeyPurpose, MasterSecret } from './master-secret.js';
import type { SecretBox } from './secret-box.js';

/**
 * Keys that check what is already stored (a password hash, a code's or recovery code's HMAC, a
 * browser's device-cookie tag). Each listed secret's are kept in the database, sealed, so that
 * once `secrets reseal` has run an old secret can leave MONBAN_SECRET without breaking them.
 */
export const RETAINED_PURPOSES = ['password-pepper', 'code-hmac', 'recovery-codes', 'device-cookies'] as const;

/**
 * Keys that must never change: the certification hash people hand to certification programs,
 * the WebAuthn user handle authenticators file passkeys under, the pepper of password hashes
 * made before secrets could rotate (they do not say which secret made them), and the salt of
 * pairwise subject identifiers (a relying party knows its users by them, OIDC Core 8.1). Derived
 * once from the secret the install started with, then kept sealed.
 */
export const PINNED_PURPOSES = ['certification', 'passkey-user-handle', 'password-pepper', 'pairwise-subject'] as const;
export type PinnedPurpose = (typeof PINNED_PURPOSES)[number];
export type RetainedPurpose = (typeof RETAINED_PURPOSES)[number];

export const PINNED = 'pinned';

export const derivedKeyContext = (secretId: string, purpose: string) => `derived_key:${secretId}:${purpose}`;

export class SecretMismatchError extends Error {
  constructor(cause: unknown) {
    super(
      'MONBAN_SECRET does not open the keys stored in this database: it is not the secret (or ' +
        'list of secrets) this database was used with, or a secret was removed before ' +
        '`npm run admin -- secrets reseal` ran',
      { cause },
    );
    this.name = 'SecretMismatchError';
  }
}

export interface DerivedKeys {
  /** The purpose's keys: each listed secret's (current first), then the kept ones of removed secrets. */
  list(purpose: RetainedPurpose): KeyList;
  pinned(purpose: PinnedPurpose): Buffer;
}

/**
 * Reads the kept keys (refusing to start when MONBAN_SECRET cannot open them, before writing
 * anything), then stores what is missing: the listed secrets' retained keys and, on first use,
 * the pinned ones, derived from the secret that sealed the oldest values (`originSecretId`), or
 * the current one on a new install.
 */
export async function loadDerivedKeys(
  db: Db,
  keyring: Keyring,
  box: SecretBox,
  originSecretId: () => Promise<string | undefined>,
): Promise<DerivedKeys> {
  const stored = await readAll(db, box);
  const missing: { secret_id: string; purpose: string; material_sealed: string }[] = [];
  for (const secret of keyring.secrets)
    for (const purpose of RETAINED_PURPOSES)
      if (!stored.has(derivedKeyContext(secret.id, purpose))) missing.push(row(box, secret.id, secret, purpose));
  const pinnedMissing = PINNED_PURPOSES.filter((purpose) => !stored.has(derivedKeyContext(PINNED, purpose)));
  if (pinnedMissing.length > 0) {
    const originId = await originSecretId();
    const origin = keyring.secrets.find((s) => s.id === originId) ?? keyring.current;
    for (const purpose of pinnedMissing) missing.push(row(box, PINNED, origin, purpose));
  }
  if (missing.length === 0) return keysOf(keyring, stored);
  // Another process starting at the same moment may store the same rows: theirs win, and are read back.
  await db
    .insertInto('derived_keys')
    .values(missing)
    .onConflict((oc) => oc.columns(['secret_id', 'purpose']).doNothing())
    .execute();
  return keysOf(keyring, await readAll(db, box));
}

function row(box: SecretBox, secretId: string, secret: MasterSecret, purpose: KeyPurpose) {
  return {
    secret_id: secretId,
    purpose,
    material_sealed: box.seal(secret.derive(purpose), derivedKeyContext(secretId, purpose)),
  };
}

/** Every stored key, by its context (secret id and purpose), opened. */
async function readAll(db: Db, box: SecretBox): Promise<Map<string, { secretId: string; key: Buffer }>> {
  const rows = await db
    .selectFrom('derived_keys')
    .select(['secret_id', 'purpose', 'material_sealed'])
    .orderBy('created_at')
    .execute();
  const keys = new Map<string, { secretId: string; key: Buffer }>();
  for (const stored of rows) {
    const context = derivedKeyContext(stored.secret_id, stored.purpose);
    try {
      keys.set(context, { secretId: stored.secret_id, key: box.open(stored.material_sealed, context) });
    } catch (err) {
      throw new SecretMismatchError(err);
    }
  }
  return keys;
}

function keysOf(keyring: Keyring, stored: Map<string, { secretId: string; key: Buffer }>): DerivedKeys {
  const listed = new Set(keyring.secrets.map((s) => s.id));
  return {
    list(purpose) {
      const kept = [...stored.entries()]
        .filter(([context, k]) => context.endsWith(`:${purpose}`) && k.secretId !== PINNED && !listed.has(k.secretId))
        .reverse() // stored oldest first; newest first here
        .map(([, k]) => ({ id: k.secretId, key: createSecretKey(k.key) }));
      return [...keyring.derive(purpose), ...kept];
    },
    pinned(purpose) {
      const key = stored.get(derivedKeyContext(PINNED, purpose));
      if (!key) throw new Error(`no pinned ${purpose} key`);
      return key.key;
    },
  };
}
