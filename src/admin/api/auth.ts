import type { Context } from 'koa';
import { InvalidAccessToken, type AccessTokenVerifier } from '../../oidc/access-tokens.js';
import { ApiProblem } from './problem.js';
import type { Caller } from './operation.js';

const REALM = 'realm="monban-admin"';
// RFC 6750 2.1: b64token.
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

/**
 * The caller of an admin API request, from its bearer token (RFC 6750): no token is a 401 with a
 * bare challenge, a token that fails validation a 401 invalid_token, a token without `scope` a
 * 403 insufficient_scope naming the scope needed (RFC 6750 3.1).
 */
export async function authenticate(ctx: Context, verify: AccessTokenVerifier, scope: string): Promise<Caller> {
  const header = ctx.get('authorization');
  const match = BEARER.exec(header);
  if (!match?.[1]) {
    throw new ApiProblem(
      'UNAUTHORIZED',
      header ? 'the Authorization header is not a Bearer token' : 'send an access token: Authorization: Bearer <token>',
      undefined,
      { 'www-authenticate': `Bearer ${REALM}` },
    );
  }
  let caller: Caller;
  try {
    caller = await verify(match[1]);
  } catch (err) {
    if (!(err instanceof InvalidAccessToken)) throw err;
    throw new ApiProblem(
      'UNAUTHORIZED',
      'the access token is not valid (expired, for another audience, or not ours)',
      undefined,
      {
        'www-authenticate': `Bearer ${REALM}, error="invalid_token"`,
      },
    );
  }
  if (!caller.scopes.has(scope)) {
    throw new ApiProblem('INSUFFICIENT_SCOPE', `this operation needs the scope ${scope}`, undefined, {
      'www-authenticate': `Bearer ${REALM}, error="insufficient_scope", scope="${scope}"`,
    });
  }
  return caller;
}
