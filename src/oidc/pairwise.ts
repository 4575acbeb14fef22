import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { Client } from 'oidc-provider';

/**
 * OIDC Core 8.1: a client registered with subject_type pairwise knows each user by a `sub` of its
 * own: an HMAC of the client's sector identifier (the host of its sector_identifier_uri, else of
 * its redirect URI) and the account id, keyed by a salt derived once from the master secret and
 * kept (derived-keys.ts), so every process, restart and secret rotation gives the same value.
 * Clients of one sector share subs; clients of different sectors cannot correlate their users.
 */
export function pairwiseSubject(key: Buffer | KeyObject, sectorIdentifier: string, accountId: string): string {
  return createHmac('sha256', key).update(`${sectorIdentifier}\n${accountId}`).digest('base64url');
}

/** oidc-provider's `pairwiseIdentifier` (ID tokens, userinfo, JWT access tokens, introspection, logout tokens). */
export function pairwiseIdentifier(salt: Buffer) {
  const key = createSecretKey(salt);
  return (_ctx: unknown, accountId: string, client: Client): Promise<string> => {
    // oidc-provider's Client has the getter; its types do not list it.
    const sector = (client as unknown as { sectorIdentifier?: string }).sectorIdentifier;
    if (!sector) throw new Error('a pairwise client has no sector identifier');
    return Promise.resolve(pairwiseSubject(key, sector, accountId));
  };
}
