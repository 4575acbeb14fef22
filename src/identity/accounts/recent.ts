import { BoundedMap } from '../../bounded-map.js';
import type { AccountRow, ConsentedAccess } from '../../db/schema.js';

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
  readonly #rows = new BoundedMap<string, { row: AccountRow; until: number; consent?: RecentConsent }>(MAX_ACCOUNTS);

  constructor(private readonly ttlMs = 10_000) {}

  /**
   * Keeps the account, and with it what a login read of its consent to the app it logs in to
   * (the resume moments later gives that consent without reading it again).
   */
  remember(row: AccountRow, consent?: RecentConsent): void {
    this.#rows.set(row.id, { row, until: Date.now() + this.ttlMs, ...(consent ? { consent } : {}) });
  }

  recall(id: string): AccountRow | undefined {
    return this.#kept(id)?.row;
  }

  /**
   * What the account allowed the app, when a login read it a moment ago; given once, to that
   * login's resume, so that an app revoked later is never given it from here.
   */
  takeConsent(id: string, clientId: string): ConsentedAccess | undefined {
    const kept = this.#kept(id);
    if (kept?.consent?.clientId !== clientId) return undefined;
    const { access } = kept.consent;
    delete kept.consent;
    return access;
  }

  #kept(id: string) {
    const kept = this.#rows.get(id);
    if (!kept) return undefined;
    if (kept.until > Date.now()) return kept;
    this.#rows.delete(id);
    return undefined;
  }

  /** Forgets one account, or every account when `id` is undefined. */
  forget(id: string | undefined): void {
    if (id === undefined) this.#rows.clear();
    else this.#rows.delete(id);
  }
}

/** An account's consent to one app, as a login read it. */
export interface RecentConsent {
  clientId: string;
  access: ConsentedAccess;
}
