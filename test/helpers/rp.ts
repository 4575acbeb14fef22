import * as client from 'openid-client';

/** What the relying party keeps between sending the browser away and getting it back. */
export interface PendingAuthorization {
  url: URL;
  codeVerifier: string;
  state: string;
  nonce: string;
}

/**
 * A confidential relying party built on openid-client, configured only from discovery. The test
 * issuer is plain http on localhost, so insecure requests are allowed; ID token signatures are
 * checked against the published JWKS as well (openid-client skips that by default for tokens
 * received straight from the token endpoint).
 */
export class RelyingParty {
  private constructor(readonly config: client.Configuration) {}

  static async discover(issuer: string, clientId: string, clientSecret: string): Promise<RelyingParty> {
    const config = await client.discovery(
      new URL(issuer),
      clientId,
      { client_secret: clientSecret },
      client.ClientSecretBasic(clientSecret),
      // The test issuer is plain http on loopback; openid-client marks the escape hatch deprecated.
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
    );
    return new RelyingParty(config);
  }

  get metadata(): client.ServerMetadata {
    return this.config.serverMetadata();
  }

  /** An authorization code request with S256 PKCE, state and nonce. */
  async authorizationRequest(params: Record<string, string>): Promise<PendingAuthorization> {
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(this.config, {
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...params,
    });
    return { url, codeVerifier, state, nonce };
  }

  /** Validates the authorization response (state, iss) and redeems the code (PKCE, ID token with nonce). */
  redeem(callback: URL, pending: PendingAuthorization) {
    return client.authorizationCodeGrant(this.config, callback, {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
  }

  userinfo(accessToken: string, expectedSubject: string) {
    return client.fetchUserInfo(this.config, accessToken, expectedSubject);
  }

  refresh(refreshToken: string) {
    return client.refreshTokenGrant(this.config, refreshToken);
  }

  revoke(token: string, hint?: 'access_token' | 'refresh_token') {
    return client.tokenRevocation(this.config, token, hint ? { token_type_hint: hint } : {});
  }

  introspect(token: string) {
    return client.tokenIntrospection(this.config, token);
  }

  endSessionUrl(params: Record<string, string>): URL {
    return client.buildEndSessionUrl(this.config, params);
  }
}

/** Decodes a JWT's payload without checking it (openid-client has checked it already). */
export function jwtPayload(jwt: string): Record<string, unknown> {
  const part = jwt.split('.')[1];
  if (!part) throw new Error('not a JWT');
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}
