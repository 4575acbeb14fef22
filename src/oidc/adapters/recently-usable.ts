import { BoundedMap } from '../../bounded-map.js';

const MAX_ENTRIES = 10_000;

/**
 * Sessions and grants this process found usable a moment ago (their row not revoked, their
 * account active), or has just written so: a login's own later requests and its code exchange
 * then need no query to check them again (issue 16's statement budget). A revocation reaches
 * every process at once through the change feed (AccountRevoker publishes the account), and at
 * the latest after `ttlMs`, should the message be lost; it has also deleted the session or grant
 * itself from storage unless that failed too.
 */
export class RecentlyUsable {
  readonly #entries = new BoundedMap<string, { accountId: string; until: number }>(MAX_ENTRIES);

  constructor(private readonly ttlMs = 5_000) {}

  remember(key: string, accountId: string): void {
    this.#entries.set(key, { accountId, until: Date.now() + this.ttlMs });
  }

  has(key: string, accountId: string): boolean {
    const entry = this.#entries.get(key);
    if (!entry) return false;
    if (entry.until > Date.now() && entry.accountId === accountId) return true;
    this.#entries.delete(key);
    return false;
  }

  /** This one session or grant is checked again. */
  forget(key: string): void {
    this.#entries.delete(key);
  }

  /** The account's sessions and grants are checked again; with no account, all of them. */
  forgetAccount(accountId: string | undefined): void {
    if (accountId === undefined) return this.#entries.clear();
    for (const [key, entry] of this.#entries) if (entry.accountId === accountId) this.#entries.delete(key);
  }
}
