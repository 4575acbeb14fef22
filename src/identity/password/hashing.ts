import { createHmac, type KeyObject } from 'node:crypto';
import bcrypt from 'bcrypt';
import pLimit from 'p-limit';
import { passwordHashSlots } from '../../config/threadpool.js';
import { asKeyList, type KeyList } from '../../security/master-secret.js';

/**
 * bcrypt's async API runs on libuv's pool, never blocking the event loop. The hashes of the
 * whole process share these slots, one fewer than the pool's threads, so that signatures, fs
 * and dns.lookup never wait behind a burst of logins (config/threadpool.ts).
 */
const hashSlot = pLimit(passwordHashSlots());
const hashInSlot = (data: string, cost: number) => hashSlot(() => bcrypt.hash(data, cost));
const compareInSlot = (data: string, hash: string) => hashSlot(() => bcrypt.compare(data, hash));

/**
 * bcrypt reads at most 72 bytes, and 60 Japanese characters are 180 bytes in UTF-8. So the
 * password (NFKC-normalised, as NIST 800-63B 5.1.1.2 suggests) is first HMAC-SHA256'd with a
 * server-side pepper and the base64 digest (44 ASCII bytes, no NUL) is what bcrypt sees.
 * Every byte of the password counts, and a stolen database alone cannot be brute-forced.
 *
 * The pepper rotates with MONBAN_SECRET: a hash is stored as `pepperId:bcrypt`, so the pepper
 * that made it is found again; one made with an older pepper is redone at the next login. A
 * hash without an id dates from before rotation and used the legacy pepper.
 */
export class PasswordHasher {
  readonly #peppers: KeyList;
  readonly #legacyPepper: Buffer | KeyObject;
  readonly cost: number;
  #dummyHash: Promise<string> | undefined;

  constructor(peppers: Buffer | KeyList, cost: number, legacyPepper?: Buffer | KeyObject) {
    this.#peppers = asKeyList(peppers);
    this.#legacyPepper = legacyPepper ?? this.#peppers[0].key;
    this.cost = cost;
  }

  #prehash(pepper: Buffer | KeyObject, password: string): string {
    return createHmac('sha256', pepper).update(password.normalize('NFKC'), 'utf8').digest('base64');
  }

  /** The pepper a stored hash was made with and its bcrypt part; no pepper when it is not known here. */
  #split(hash: string): { pepper: Buffer | KeyObject | undefined; bcryptHash: string } {
    const colon = hash.indexOf(':');
    if (colon < 0) return { pepper: this.#legacyPepper, bcryptHash: hash };
    const id = hash.slice(0, colon);
    return { pepper: this.#peppers.find((p) => p.id === id)?.key, bcryptHash: hash.slice(colon + 1) };
  }

  async hash(password: string): Promise<string> {
    const { id, key } = this.#peppers[0];
    return `${id}:${await hashInSlot(this.#prehash(key, password), this.cost)}`;
  }

  async verify(password: string, hash: string): Promise<boolean> {
    const { pepper, bcryptHash } = this.#split(hash);
    // A pepper nobody kept (its secret removed before `secrets reseal` saved it): the same work, no match.
    if (!pepper) return this.verifyAgainstNothing(password);
    return compareInSlot(this.#prehash(pepper, password), bcryptHash);
  }

  /**
   * Same work as a real check, for unknown accounts: the answer time does not tell whether an
   * address is registered.
   */
  async verifyAgainstNothing(password: string): Promise<false> {
    this.#dummyHash ??= hashInSlot('monban-dummy-password', this.cost);
    await compareInSlot(this.#prehash(this.#peppers[0].key, password), await this.#dummyHash);
    return false;
  }

  /** True when the stored hash was made with another cost or an older pepper and should be redone at next login. */
  needsRehash(hash: string): boolean {
    const { bcryptHash } = this.#split(hash);
    return !hash.startsWith(`${this.#peppers[0].id}:`) || bcrypt.getRounds(bcryptHash) !== this.cost;
  }
}
