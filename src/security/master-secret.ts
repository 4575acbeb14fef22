import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hkdfSync, randomBytes } from 'node:crypto';

/** Purposes for keys derived from the master secret; each gets its own HKDF output. */
export type KeyPurpose = 'seal' | 'password-pepper' | 'code-hmac' | 'cookie' | 'certification' | 'recovery-codes';

export class MasterSecret {
  readonly #bytes: Buffer;

  constructor(bytes: Buffer) {
    if (bytes.length < 32) throw new Error('the master secret must be at least 32 bytes');
    this.#bytes = bytes;
  }

  /** HKDF-SHA256 (RFC 5869) so that no two purposes ever share key material. */
  derive(purpose: KeyPurpose, length = 32): Buffer {
    return Buffer.from(hkdfSync('sha256', this.#bytes, Buffer.alloc(0), `monban/${purpose}/v1`, length));
  }

  /** Never print the secret by accident. */
  toJSON(): string {
    return '[MasterSecret]';
  }
}

export function decodeSecret(text: string): Buffer {
  const trimmed = text.trim();
  const bytes = /^[0-9a-f]+$/i.test(trimmed) && trimmed.length % 2 === 0
    ? Buffer.from(trimmed, 'hex')
    : Buffer.from(trimmed, 'base64');
  if (bytes.length < 32) throw new Error('the master secret must decode to at least 32 bytes');
  return bytes;
}

/**
 * MONBAN_SECRET when configured. Otherwise (embedded default only) a secret generated once and
 * kept in <dataDir>/master.key with mode 0600, so restarts keep passwords and keys usable.
 */
export function loadMasterSecret(options: { secret?: string | undefined; dataDir: string }): MasterSecret {
  if (options.secret) return new MasterSecret(decodeSecret(options.secret));
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
