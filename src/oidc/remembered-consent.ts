import type Provider from 'oidc-provider';
import type { Grant, KoaContextWithOIDC } from 'oidc-provider';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { ConsentedAccess } from '../db/schema.js';
import type { RecentAccounts } from '../identity/accounts/recent.js';
import { lastConsent } from '../identity/accounts/repository.js';

/**
 * oidc-provider's loadExistingGrant with remembered consent: a signed-in account that allowed an
 * app before is not asked again when the app sends it to us, be it right after the login or on a
 * session that has not been to this app yet, as long as an earlier grant is still live
 * (ttl.grant after it was made) and not revoked (the security page's "revoke access", a hold, a
 * password change). The session gets a new Grant of its own with what the user allowed last
 * time, so that a logout still ends only that session's tokens.
 *
 * oidc-provider still checks the grant against the request: a scope, claim or resource the user
 * never allowed shows the consent page as before, which then adds to this grant. An app that
 * asks for the page (prompt=consent) sees it with everything it asks for, and native apps, whose
 * redirect URIs another app on the device can claim, are always asked (oidc-provider's
 * native_client_prompt).
 */
export function loadExistingGrant(db: Db, recentAccounts?: RecentAccounts) {
  return async (ctx: KoaContextWithOIDC): Promise<Grant | undefined> => {
    const { oidc } = ctx;
    const { client, session } = oidc;
    if (!client || !session) return undefined;
    const grantId = oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
    const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
    if (existing) return existing;
    const { accountId } = session;
    if (!accountId || client.applicationType === 'native' || oidc.prompts.has('consent')) return undefined;
    // The login that just finished read it with the account (findAccountForLogin), most of the time.
    const consented =
      recentAccounts?.takeConsent(accountId, client.clientId) ??
      (await db.selectNoFrom(lastConsent(db, sql.val(accountId), client.clientId).as('consented')).executeTakeFirst())
        ?.consented;
    return consented ? grantOf(oidc.provider, accountId, client.clientId, consented) : undefined;
  };
}

/** A saved new grant with what the account allowed the app before, or undefined when that was nothing. */
async function grantOf(
  provider: Provider,
  accountId: string,
  clientId: string,
  consented: ConsentedAccess,
): Promise<Grant | undefined> {
  if (!consented.scope && !consented.claims?.length && !consented.resources) return undefined;
  const grant = new provider.Grant({ accountId, clientId });
  if (consented.scope) grant.addOIDCScope(consented.scope);
  if (consented.claims?.length) grant.addOIDCClaims(consented.claims);
  for (const [indicator, scope] of Object.entries(consented.resources ?? {})) grant.addResourceScope(indicator, scope);
  await grant.save();
  return grant;
}
