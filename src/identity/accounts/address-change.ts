import type { Db } from '../../db/database.js';
import type { RequestMeta } from '../../request-meta.js';

/** One account's move to a new address, as a company admin, a rename job or an operator asks for it. */
export interface AddressChangeRequest {
  accountId: string;
  newEmail: string;
  /** For the audit log: a company admin's account id, an admin client's client_id, or 'cli'. */
  actor: string;
  /** The company on whose behalf (its admins' audit page shows the event). */
  companyId?: string | undefined;
  meta?: RequestMeta | undefined;
}

/**
 * The verified change of an address (M3, M4), started inside another piece of work's transaction
 * (a bulk rename's item, a support case's approval), so that the two commit together or not at
 * all: the code to the new address, the notice to the old one, the account on hold until the code
 * is entered. `start` refuses with an AppError (the address taken, ...), which the caller may roll
 * back to a savepoint; `settle` runs after the commit (the sessions' side that lives in Redis).
 */
export interface AddressChanger {
  start(trx: Db, change: AddressChangeRequest): Promise<void>;
  settle(accountId: string): Promise<void>;
}
