import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { asKeyList, type IdentifiedKey, type KeyList } from './master-secret.js';

/** v1: `v1.iv.body`, from before secrets could rotate (sealer unknown); v2: `v2.keyId.iv.body`. */
const VERSION = 'v2';

export class UnknownSealingKeyError extends Error {
  constructor(readonly keyId: string) {
    super(
      `a value is sealed with the secret ${keyId}, which MONBAN_SECRET does not list ` +
        '(put it back, run `npm run admin -- secrets reseal`, then remove it)',
    );
    this.name = 'UnknownSealingKeyError';
  }
}

/**
 * AES-256-GCM sealing for secrets at rest (client secrets, private keys). The context string is
 * authenticated as associated data, so a sealed value copied to another row does not open.
 * With several keys (MONBAN_SECRET rotation) the first seals, and each value names its key.
 */
export class SecretBox {
  readonly #keys: KeyList;

  constructor(keys: Buffer | KeyList) {
    this.#keys = asKeyList(keys);
    for (const { key } of this.#keys) if (key.symmetricKeySize !== 32) throw new Error('SecretBox needs 32-byte keys');
  }

  /** The id of the key new values are sealed with. */
  get currentKeyId(): string {
    return this.#keys[0].id;
  }

  seal(plaintext: string | Buffer, context: string): string {
    const { id, key } = this.#keys[0];
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  /** True when the value is sealed with the current key (nothing to reseal). */
  isCurrent(sealed: string): boolean {
    return sealed.startsWith(`${VERSION}.${this.currentKeyId}.`);
  }

  open(sealed: string, context: string): Buffer {
    const parts = sealed.split('.');
    const [legacy, legacyIv, legacyBody] = parts;
    if (legacy === 'v1' && legacyIv && legacyBody && parts.length === 3) {
      // Sealed before values named their key: one of the listed keys did it.
      let failure: unknown;
      for (const key of this.#keys) {
        try {
          return decrypt(key, legacyIv, legacyBody, context);
        } catch (err) {
          failure = err;
        }
      }
      throw failure;
    }
    const [version, keyId, ivText, bodyText] = parts;
    if (version !== VERSION || !keyId || !ivText || !bodyText || parts.length !== 4)
      throw new Error('unrecognised sealed value');
    const key = this.#keys.find((k) => k.id === keyId);
    if (!key) throw new UnknownSealingKeyError(keyId);
    return decrypt(key, ivText, bodyText, context);
  }

  /** The id of the listed key that opens the value (for a v1 value, found by trying them). */
  keyIdOf(sealed: string, context: string): string {
    const parts = sealed.split('.');
    if (parts[0] !== 'v1') {
      this.open(sealed, context);
      return parts[1] ?? '';
    }
    for (const key of this.#keys) {
      try {
        decrypt(key, parts[1] ?? '', parts[2] ?? '', context);
        return key.id;
      } catch {
        // not this one
      }
    }
    throw new Error('no listed key opens the value');
  }

  openText(sealed: string, context: string): string {
    return this.open(sealed, context).toString('utf8');
  }

  /** The value sealed with the current key: itself when it already is. */
  reseal(sealed: string, context: string): string {
    return this.isCurrent(sealed) ? sealed : this.seal(this.open(sealed, context), context);
  }
}

function decrypt({ key }: IdentifiedKey, ivText: string, bodyText: string, context: string): Buffer {
  const body = Buffer.from(bodyText, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(ivText, 'base64url'));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(body.subarray(body.length - 16));
  return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
}
