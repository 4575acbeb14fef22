import type { AccountRow } from '../../db/schema.js';

const MAX_ACCOUNTS = 10_000;

/**
 * Accounts a login has just read, kept for the few seconds in which oidc-provider asks for the
 * same account again (its resume after the login and after consent, the code exchange), so a
 * login reads the account once. Only a login puts accounts here, and only for `ttlMs`: a change
 * to an account (hold, disable, profile) reaches tokens within that time at most, and a
 * revocation ends the grant anyway. Other reads (userinfo, refresh, introspection) go to the
 * database.
 */
export class RecentAccounts {
  readonly #rows = new Map<string, { row: AccountRow; until: number }>();

  constructor(private readonly ttlMs = 10_000) {}

  remember(row: AccountRow): void {
    this.#rows.delete(row.id);
    const oldest = this.#rows.keys().next();
    if (this.#rows.size >= MAX_ACCOUNTS && !oldest.done) this.#rows.delete(oldest.value);
    this.#rows.set(row.id, { row, until: Date.now() + this.ttlMs });
  }

  recall(id: string): AccountRow | undefined {
    const kept = this.#rows.get(id);
    if (!kept) return undefined;
    if (kept.until > Date.now()) return kept.row;
    this.#rows.delete(id);
    return undefined;
  }

  forget(id: string): void {
    this.#rows.delete(id);
  }
}
