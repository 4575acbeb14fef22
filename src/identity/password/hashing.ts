import { createHmac } from 'node:crypto';
import bcrypt from 'bcrypt';

/**
 * bcrypt reads at most 72 bytes, and 60 Japanese characters are 180 bytes in UTF-8. So the
 * password (NFKC-normalised, as NIST 800-63B 5.1.1.2 suggests) is first HMAC-SHA256'd with a
 * server-side pepper and the base64 digest (44 ASCII bytes, no NUL) is what bcrypt sees.
 * Every byte of the password counts, and a stolen database alone cannot be brute-forced.
 */
export class PasswordHasher {
  readonly #pepper: Buffer;
  readonly cost: number;
  #dummyHash: Promise<string> | undefined;

  constructor(pepper: Buffer, cost: number) {
    this.#pepper = pepper;
    this.cost = cost;
  }

  #prehash(password: string): string {
    return createHmac('sha256', this.#pepper).update(password.normalize('NFKC'), 'utf8').digest('base64');
  }

  /** bcrypt's async API runs on the libuv pool, never blocking the event loop. */
  hash(password: string): Promise<string> {
    return bcrypt.hash(this.#prehash(password), this.cost);
  }

  verify(password: string, hash: string): Promise<boolean> {
    return bcrypt.compare(this.#prehash(password), hash);
  }

  /**
   * Same work as a real check, for unknown accounts: the answer time does not tell whether an
   * address is registered.
   */
  async verifyAgainstNothing(password: string): Promise<false> {
    this.#dummyHash ??= bcrypt.hash('monban-dummy-password', this.cost);
    await bcrypt.compare(this.#prehash(password), await this.#dummyHash);
    return false;
  }

  /** True when the stored hash was made with another cost and should be redone at next login. */
  needsRehash(hash: string): boolean {
    return bcrypt.getRounds(hash) !== this.cost;
  }
}
