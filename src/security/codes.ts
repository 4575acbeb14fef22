import { createHmac, randomInt, timingSafeEqual, type KeyObject } from 'node:crypto';
import { asKeyList, type KeyList } from './master-secret.js';

/**
 * One-time codes (X2): random digits, stored only as an HMAC bound to the flow they belong to,
 * compared in constant time. A database dump alone does not reveal a usable code. The first key
 * makes new HMACs; a code stored under an older MONBAN_SECRET still matches.
 */
export class CodeHasher {
  readonly #keys: KeyList;

  constructor(keys: Buffer | KeyList) {
    this.#keys = asKeyList(keys);
  }

  generate(digits: number): string {
    let code = '';
    for (let i = 0; i < digits; i += 1) code += String(randomInt(10));
    return code;
  }

  #hmac(key: KeyObject, code: string, flowId: string): string {
    return createHmac('sha256', key).update(`${flowId}\u0000${code}`).digest('base64url');
  }

  hash(code: string, flowId: string): string {
    return this.#hmac(this.#keys[0].key, code, flowId);
  }

  matches(code: string, flowId: string, stored: string): boolean {
    const typed = code.normalize('NFKC').replace(/\s+/g, '');
    const expected = Buffer.from(stored);
    let found = false;
    // Every key is tried (no early exit): the time does not depend on which one matched.
    for (const { key } of this.#keys) {
      const given = Buffer.from(this.#hmac(key, typed, flowId));
      if (given.length === expected.length && timingSafeEqual(given, expected)) found = true;
    }
    return found;
  }
}
