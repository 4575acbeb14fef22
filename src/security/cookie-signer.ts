import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { BoundedMap } from '../bounded-map.js';

/** Cookie values whose signature under the signing key is kept (a few per browser mid-login). */
const RECENT_SIGNATURES = 10_000;

interface Signature {
  digest: Buffer;
  text: string;
}

/**
 * Signs and checks the `.sig` companions of signed cookies (oidc-provider's interaction and
 * session cookies, ours) for Koa's cookies, in Keygrip's format: HMAC-SHA1, base64url, signed
 * with the first key, accepted with any of them (so cookies signed before a rotation stay valid).
 *
 * Koa wraps a plain list of keys in Keygrip, which compares through tsscmp: two more HMACs under
 * a fresh random key per comparison, and every key handed to createHmac as bytes. A login reads
 * and writes the same few signed cookies dozens of times; here the keys are KeyObjects made once,
 * the signing key's digest of a recent value is computed once, and the comparison is
 * crypto.timingSafeEqual on the two digests.
 */
export class CookieSigner {
  readonly #keys: KeyObject[];
  readonly #signing: KeyObject;
  /** Only values this process signed or saw with a valid signature: a forger cannot fill it. */
  readonly #recent = new BoundedMap<string, Signature>(RECENT_SIGNATURES);

  constructor(keys: readonly string[]) {
    this.#keys = keys.map((key) => createSecretKey(Buffer.from(key)));
    const [first] = this.#keys;
    if (!first) throw new Error('cookie signing needs at least one key');
    this.#signing = first;
  }

  #digest(data: string, key: KeyObject): Buffer {
    return createHmac('sha1', key).update(data).digest();
  }

  #remember(data: string, digest: Buffer): Signature {
    const signature = { digest, text: digest.toString('base64url') };
    this.#recent.set(data, signature);
    return signature;
  }

  sign(data: string): string {
    return (this.#recent.get(data) ?? this.#remember(data, this.#digest(data, this.#signing))).text;
  }

  /** The position of the key that signed `data` with `digest`, or -1. */
  index(data: string, digest: string): number {
    const given = Buffer.from(digest, 'base64url');
    // base64url decoding skips characters outside its alphabet: only the canonical form counts.
    if (given.toString('base64url') !== digest) return -1;
    const recent = this.#recent.get(data);
    const index = this.#keys.findIndex((key) => {
      const expected = (key === this.#signing ? recent?.digest : undefined) ?? this.#digest(data, key);
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
    if (index === 0 && !recent) this.#remember(data, given);
    return index;
  }

  verify(data: string, digest: string): boolean {
    return this.index(data, digest) > -1;
  }
}
