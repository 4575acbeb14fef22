import type { AccountRow } from '../../db/schema.js';

const MAX_ACCOUNTS = 10_000;

/**
 * Accounts just read for oidc-provider (by a login, or by findAccount for userinfo, refresh and
 * introspection), kept for `ttlMs`, so that the same account asked for again within seconds (a
 * login's resume after the login and after consent, its code exchange, an app's userinfo and
 * refresh calls) is read once. Ending an account's access (hold, disable, password change, sign
 * out everywhere) makes every process forget it at once (the change feed's `access` channel),
 * and revokes its tokens anyway; other changes to the account (its name, say) reach tokens
 * within `ttlMs` at most.
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

  /** Forgets one account, or every account when `id` is undefined. */
  forget(id: string | undefined): void {
    if (id === undefined) this.#rows.clear();
    else this.#rows.delete(id);
  }
}
