/**
 * The account console (/account) is a relying party of Monban itself: it signs users in through
 * the same login pages and shares the provider's session, so logging out of either ends both.
 * First-party, so its consent is implied.
 */
export const ACCOUNT_CLIENT_ID = 'monban-account';
export const ACCOUNT_CLIENT_NAME = 'Monban';

export function accountClientMetadata(issuer: string): Record<string, unknown> {
  return {
    client_id: ACCOUNT_CLIENT_ID,
    client_name: ACCOUNT_CLIENT_NAME,
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [`${issuer}/account/callback`],
    post_logout_redirect_uris: [`${issuer}/account/logged-out`],
  };
}
