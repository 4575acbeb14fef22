import { createLocalJWKSet, jwtVerify, type JWK } from 'jose';

/** A verified access token: which client holds it and what it may do. */
export interface VerifiedAccessToken {
  clientId: string;
  scopes: ReadonlySet<string>;
}

/** Why a bearer token was not accepted (RFC 6750 3.1 invalid_token). */
export class InvalidAccessToken extends Error {
  override name = 'InvalidAccessToken';
}

/** The public half of a signing JWK (the private members never leave oidc/). */
function publicJwk({ kty, kid, alg, use, n, e, crv, x, y }: JWK): JWK {
  return Object.fromEntries(Object.entries({ kty, kid, alg, use, n, e, crv, x, y }).filter(([, v]) => v !== undefined));
}

/**
 * Validates JWT access tokens (RFC 9068) that this provider issued for one resource, in process:
 * signature against the provider's own keys, `typ` at+jwt, `iss`, `aud` = the resource, `exp`.
 * Only client_credentials tokens are accepted (`sub` is the client): the admin API acts for
 * clients, never for a signed-in user.
 */
export function accessTokenVerifier(options: {
  issuer: string;
  audience: string;
  jwks: { keys: JWK[] };
  /**
   * Whether the token's client may still use it (it exists and is still an admin client): a
   * deleted client, or one whose admin flag was taken away, loses its tokens at once rather
   * than when they expire.
   */
  clientAllowed?: (clientId: string) => Promise<boolean>;
}) {
  const keys = createLocalJWKSet({ keys: options.jwks.keys.map(publicJwk) });
  return async (token: string): Promise<VerifiedAccessToken> => {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: options.audience,
        typ: 'at+jwt',
        algorithms: ['RS256'],
        requiredClaims: ['exp', 'client_id', 'sub'],
      }));
    } catch (err) {
      throw new InvalidAccessToken((err as Error).message, { cause: err });
    }
    const clientId = payload.client_id;
    if (typeof clientId !== 'string' || payload.sub !== clientId)
      throw new InvalidAccessToken('not a client_credentials token');
    if (options.clientAllowed && !(await options.clientAllowed(clientId)))
      throw new InvalidAccessToken('the client was deleted or is no longer allowed this resource');
    const scope = typeof payload.scope === 'string' ? payload.scope : '';
    return { clientId, scopes: new Set(scope.split(' ').filter(Boolean)) };
  };
}

export type AccessTokenVerifier = ReturnType<typeof accessTokenVerifier>;
