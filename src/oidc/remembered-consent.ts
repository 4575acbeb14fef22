import type Provider from 'oidc-provider';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';

/**
 * Remembered consent: an account that allowed an app once is not asked again at its next login
 * to that app, as long as an earlier grant is still live (ttl.grant after it was made) and not
 * revoked (the security page's "revoke access", a hold, a password change). The login gets a new
 * Grant of its own with what the user allowed last time, so that each session keeps its own grant
 * and a logout ends only that session's tokens.
 *
 * oidc-provider still checks the grant against the request: a scope, claim or resource the user
 * never allowed, or prompt=consent, shows the consent page as before, which then adds to this
 * grant. Returns the new grant's id, or undefined when there is nothing to remember.
 */
export async function grantRememberedConsent(
  provider: Provider,
  db: Db,
  accountId: string,
  clientId: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('account_grants')
    .select('consented')
    .where('account_id', '=', accountId)
    .where('client_id', '=', clientId)
    .where('revoked_at', 'is', null)
    .where('consented', 'is not', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  const consented = row?.consented;
  if (!consented?.scope && !consented?.claims?.length && !consented?.resources) return undefined;
  const grant = new provider.Grant({ accountId, clientId });
  if (consented.scope) grant.addOIDCScope(consented.scope);
  if (consented.claims?.length) grant.addOIDCClaims(consented.claims);
  for (const [indicator, scope] of Object.entries(consented.resources ?? {})) grant.addResourceScope(indicator, scope);
  return grant.save();
}
