import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Signs and checks the `.sig` companions of signed cookies (oidc-provider's interaction and
 * session cookies, ours) for Koa's cookies, in Keygrip's format: HMAC-SHA1, base64url, signed
 * with the first key, accepted with any of them (so cookies signed before a rotation stay valid).
 *
 * Koa wraps a plain list of keys in Keygrip, which compares through tsscmp: two more HMACs under
 * a fresh random key per comparison, and every key handed to createHmac as bytes. A login reads
 * signed cookies dozens of times; here the keys are KeyObjects made once and the comparison is
 * crypto.timingSafeEqual on the two digests.
 */
export class CookieSigner {
  readonly #keys: KeyObject[];
  readonly #signing: KeyObject;

  constructor(keys: readonly string[]) {
    this.#keys = keys.map((key) => createSecretKey(Buffer.from(key)));
    const [first] = this.#keys;
    if (!first) throw new Error('cookie signing needs at least one key');
    this.#signing = first;
  }

  #digest(data: string, key: KeyObject): Buffer {
    return createHmac('sha1', key).update(data).digest();
  }

  sign(data: string): string {
    return this.#digest(data, this.#signing).toString('base64url');
  }

  /** The position of the key that signed `data` with `digest`, or -1. */
  index(data: string, digest: string): number {
    const given = Buffer.from(digest, 'base64url');
    // base64url decoding skips characters outside its alphabet: only the canonical form counts.
    if (given.toString('base64url') !== digest) return -1;
    return this.#keys.findIndex((key) => {
      const expected = this.#digest(data, key);
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
  }

  verify(data: string, digest: string): boolean {
    return this.index(data, digest) > -1;
  }
}
