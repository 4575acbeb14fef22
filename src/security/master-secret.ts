import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHash, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';

/** Purposes for keys derived from the master secret; each gets its own HKDF output. */
export type KeyPurpose =
  | 'seal'
  | 'password-pepper'
  | 'code-hmac'
  | 'cookie'
  | 'certification'
  | 'recovery-codes'
  | 'device-cookies'
  | 'passkey-user-handle'
  | 'pairwise-subject';

/**
 * A key and the id of the secret it was derived from (what a sealed value or a hash records).
 * A KeyObject, not a Buffer: Node imports a Buffer key into OpenSSL again on every createHmac
 * and createCipheriv (about three times the cost of the HMAC itself), a KeyObject only once.
 */
export interface IdentifiedKey {
  id: string;
  key: KeyObject;
}

/**
 * Newest first: the first key makes new values, every key checks or opens old ones. A bare
 * Buffer is a list of one (tests, tools), named by a hash of the key itself.
 */
export type KeyList = readonly [IdentifiedKey, ...IdentifiedKey[]];

export function asKeyList(keys: Buffer | KeyList): KeyList {
  if (!Buffer.isBuffer(keys)) return keys;
  return [{ id: createHash('sha256').update(keys).digest('base64url').slice(0, 8), key: createSecretKey(keys) }];
}

export class MasterSecret {
  readonly #bytes: Buffer;
  /**
   * A public name for the secret (8 characters of an HKDF output: it tells nothing about the
   * secret), written next to what it sealed or peppered so any listed secret finds its own.
   */
  readonly id: string;

  constructor(bytes: Buffer) {
    if (bytes.length < 32) throw new Error('the master secret must be at least 32 bytes');
    this.#bytes = bytes;
    this.id = this.#hkdf('monban/key-id/v1', 6).toString('base64url');
  }

  #hkdf(info: string, length: number): Buffer {
    return Buffer.from(hkdfSync('sha256', this.#bytes, Buffer.alloc(0), info, length));
  }

  /** HKDF-SHA256 (RFC 5869) so that no two purposes ever share key material. */
  derive(purpose: KeyPurpose, length = 32): Buffer {
    return this.#hkdf(`monban/${purpose}/v1`, length);
  }

  /** Never print the secret by accident. */
  toJSON(): string {
    return `[MasterSecret ${this.id}]`;
  }
}

/**
 * MONBAN_SECRET as a list: the current secret first, then the previous ones (comma-separated).
 * The current one seals and peppers everything new; all of them open and verify what exists.
 */
export class Keyring {
  readonly secrets: readonly [MasterSecret, ...MasterSecret[]];

  constructor(secrets: readonly [MasterSecret, ...MasterSecret[]]) {
    const ids = new Set(secrets.map((s) => s.id));
    if (ids.size !== secrets.length) throw new Error('MONBAN_SECRET lists the same secret twice');
    this.secrets = secrets;
  }

  get current(): MasterSecret {
    return this.secrets[0];
  }

  /** The purpose's key under every listed secret, current first. */
  derive(purpose: KeyPurpose): KeyList {
    const keyOf = (secret: MasterSecret) => ({ id: secret.id, key: createSecretKey(secret.derive(purpose)) });
    const [current, ...older] = this.secrets;
    return [keyOf(current), ...older.map(keyOf)];
  }

  toJSON(): string {
    return `[Keyring ${this.secrets.map((s) => s.id).join(',')}]`;
  }
}

export function decodeSecret(text: string): Buffer {
  const trimmed = text.trim();
  const bytes =
    /^[0-9a-f]+$/i.test(trimmed) && trimmed.length % 2 === 0
      ? Buffer.from(trimmed, 'hex')
      : Buffer.from(trimmed, 'base64');
  if (bytes.length < 32) throw new Error('the master secret must decode to at least 32 bytes');
  return bytes;
}

/** The secrets of a MONBAN_SECRET value: comma-separated (base64 and hex have no comma), current first. */
export function decodeSecretList(text: string): [Buffer, ...Buffer[]] {
  const [first, ...rest] = text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  if (first === undefined) throw new Error('the master secret must decode to at least 32 bytes');
  return [decodeSecret(first), ...rest.map(decodeSecret)];
}

/**
 * MONBAN_SECRET when configured. Otherwise (embedded default only) a secret generated once and
 * kept in <dataDir>/master.key with mode 0600, so restarts keep passwords and keys usable.
 */
export function loadKeyring(options: { secret?: string | undefined; dataDir: string }): Keyring {
  if (options.secret) {
    const [current, ...older] = decodeSecretList(options.secret);
    return new Keyring([new MasterSecret(current), ...older.map((bytes) => new MasterSecret(bytes))]);
  }
  return new Keyring([loadMasterSecret(options)]);
}

/** The single embedded secret (or the first listed one). */
export function loadMasterSecret(options: { secret?: string | undefined; dataDir: string }): MasterSecret {
  if (options.secret) return new MasterSecret(decodeSecretList(options.secret)[0]);
  if (options.dataDir === 'memory://') return new MasterSecret(randomBytes(32));
  const file = path.resolve(options.dataDir, 'master.key');
  if (existsSync(file)) return new MasterSecret(decodeSecret(readFileSync(file, 'utf8')));
  mkdirSync(path.dirname(file), { recursive: true });
  // 'wx' fails if another process created the file in the meantime; then read theirs.
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return new MasterSecret(decodeSecret(readFileSync(file, 'utf8')));
}
