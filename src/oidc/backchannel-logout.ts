import { randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';

/** OIDC Back-Channel Logout 1.0 section 2.4: the event that makes a JWT a logout token. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

export interface LogoutNoticeOptions {
  /** How long a relying party may take to answer (a slow RP is retried, never waited for long). */
  timeoutMs: number;
}

/**
 * Delivers back-channel logout notices for the courier (channel 'logout'). The logout token is
 * built and signed by oidc-provider's own IdToken (the client's ID token algorithm and keys, the
 * pairwise `sub` when the client has one) at the moment of delivery, so a retry an hour later
 * still carries a fresh `iat`/`exp`. Section 2.4: `iss`, `aud`, `iat`, `exp`, `jti`, `events`,
 * `sub` and `sid`, and never a `nonce`. Section 2.8: the RP answers 200 (some frameworks 204).
 */
export function logoutNoticeSender(provider: Provider, options: LogoutNoticeOptions) {
  return {
    async send(clientId: string, notice: { sub: string; sid: string }): Promise<void> {
      const client = await provider.Client.find(clientId);
      // Deleted, or no longer asking for notices: there is nobody to tell.
      const uri = client?.backchannelLogoutUri;
      if (!client || !uri) return;
      const token = new provider.IdToken({ sub: notice.sub }, { client });
      // oidc-provider's own logout tokens unmask `sub` the same way (models/client.js).
      (token as unknown as { mask: Record<string, null> }).mask = { sub: null };
      token.set('events', { [BACKCHANNEL_LOGOUT_EVENT]: {} });
      token.set('jti', randomUUID());
      token.set('sid', notice.sid);
      const logoutToken = await token.issue({ use: 'logout' });
      const res = await fetch(uri, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: logoutToken }),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      await res.body?.cancel();
      if (res.status !== 200 && res.status !== 204)
        throw new Error(`the relying party's backchannel_logout_uri answered ${res.status}`);
    },
  };
}

/**
 * oidc-provider's RP-initiated logout POSTs logout tokens itself, once and while the user waits.
 * Monban delivers them through the outbox instead (for every way a session ends, with retries),
 * so that direct send is turned off: the session's end queues the notices.
 */
export function leaveLogoutNoticesToTheOutbox(provider: Provider): void {
  (provider.Client.prototype as unknown as { backchannelLogout: () => Promise<void> }).backchannelLogout = () =>
    Promise.resolve();
}
