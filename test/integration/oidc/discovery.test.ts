import { startTestApp, type TestApp } from '../../helpers/app.js';
import { authorizationUrl, postAsClient, registerClient, RP_CALLBACK } from '../../helpers/fixtures.js';

/**
 * Every field discovery publishes (OIDC Discovery 1.0 section 3, RFC 8414 and the specs of each
 * feature turned on). A field that appears or disappears, say a feature switched on by an
 * upgrade of oidc-provider, fails here until it is meant and documented.
 */
const PUBLISHED = [
  'acr_values_supported',
  'authorization_endpoint',
  'authorization_response_iss_parameter_supported',
  'backchannel_logout_session_supported',
  'backchannel_logout_supported',
  'claim_types_supported',
  'claims_parameter_supported',
  'claims_supported',
  'code_challenge_methods_supported',
  'device_authorization_endpoint',
  'dpop_signing_alg_values_supported',
  'end_session_endpoint',
  'grant_types_supported',
  'id_token_signing_alg_values_supported',
  'introspection_endpoint',
  'issuer',
  'jwks_uri',
  'prompt_values_supported',
  'pushed_authorization_request_endpoint',
  'request_object_signing_alg_values_supported',
  'request_parameter_supported',
  'request_uri_parameter_supported',
  'response_modes_supported',
  'response_types_supported',
  'revocation_endpoint',
  'scopes_supported',
  'subject_types_supported',
  'token_endpoint',
  'token_endpoint_auth_methods_supported',
  'token_endpoint_auth_signing_alg_values_supported',
  'ui_locales_supported',
  'userinfo_endpoint',
];

describe('discovery and keys (OP1, OP4)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('publishes the provider metadata a relying party needs', async () => {
    const res = await fetch(`${t.issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const meta = (await res.json()) as Record<string, unknown>;
    expect(meta.issuer).toBe(t.issuer);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.grant_types_supported).toEqual(
      expect.arrayContaining([
        'authorization_code',
        'refresh_token',
        'client_credentials',
        'urn:ietf:params:oauth:grant-type:device_code',
      ]),
    );
    // RFC 8628 4: the device flow's endpoint; its pages are at /device.
    expect(meta.device_authorization_endpoint).toBe(`${t.issuer}/device/auth`);
    for (const endpoint of [
      'token_endpoint',
      'userinfo_endpoint',
      'revocation_endpoint',
      'introspection_endpoint',
      'end_session_endpoint',
      'jwks_uri',
    ]) {
      expect(String(meta[endpoint])).toMatch(new RegExp(`^${t.issuer}/`));
    }
    // OIDC Core 8.1: pairwise subs per client; RFC 9101: signed request objects by value only,
    // with the client's own asymmetric keys (no HS256, no unsigned ones).
    expect(meta.subject_types_supported).toEqual(['public', 'pairwise']);
    expect(meta.request_parameter_supported).toBe(true);
    expect(meta.request_uri_parameter_supported).toBe(false);
    expect(meta.request_object_signing_alg_values_supported).toEqual(['RS256', 'PS256', 'ES256', 'EdDSA']);
    expect(meta.scopes_supported).toEqual(
      expect.arrayContaining(['openid', 'email', 'profile', 'phone', 'offline_access']),
    );
  });

  it('publishes exactly the fields of what is supported, and its lists as they are', async () => {
    const meta = (await (await fetch(`${t.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(Object.keys(meta).sort()).toEqual([...PUBLISHED].sort());
    expect(meta).toMatchObject({
      grant_types_supported: [
        'authorization_code',
        'refresh_token',
        'client_credentials',
        'urn:ietf:params:oauth:grant-type:device_code',
      ],
      response_types_supported: ['code'],
      id_token_signing_alg_values_supported: ['RS256'],
      token_endpoint_auth_methods_supported: [
        'client_secret_basic',
        'client_secret_jwt',
        'client_secret_post',
        'private_key_jwt',
        'none',
      ],
      prompt_values_supported: ['none', 'login', 'consent', 'create'],
      ui_locales_supported: ['ja', 'en'],
      claim_types_supported: ['normal'],
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
    });
  });

  it('answers what it does not support with the standard errors', async () => {
    const client = await registerClient(t.app);
    /** The error an authorization request with `params` is sent back to the RP with. */
    const refusal = async (params: Record<string, string>) => {
      const res = await fetch(authorizationUrl(t.issuer, client.client_id, params).url, { redirect: 'manual' });
      const location = new URL(res.headers.get('location') ?? '', t.issuer);
      expect(`${location.origin}${location.pathname}`).toBe(RP_CALLBACK);
      // An implicit or hybrid response type answers in the fragment (OAuth 2.0 Multiple Response Types 5).
      return (location.hash ? new URLSearchParams(location.hash.slice(1)) : location.searchParams).get('error');
    };
    // Only the code flow (response_types_supported), only S256 PKCE, no request_uri, no unlisted prompt.
    expect(await refusal({ response_type: 'token' })).toBe('unsupported_response_type');
    expect(await refusal({ response_type: 'code id_token' })).toBe('unsupported_response_type');
    expect(await refusal({ code_challenge_method: 'plain' })).toBe('invalid_request');
    expect(await refusal({ request_uri: 'https://rp.example.com/request.jwt' })).toBe('request_uri_not_supported');
    expect(await refusal({ prompt: 'select_account' })).toBe('invalid_request');
    // The grants listed, and no other: the password grant is refused as RFC 6749 5.2 says.
    const password = await postAsClient(`${t.issuer}/token`, client, {
      grant_type: 'password',
      username: 'someone@example.com',
      password: 'x',
    });
    expect(password.status).toBe(400);
    expect(((await password.json()) as { error: string }).error).toBe('unsupported_grant_type');
  });

  it('publishes only public signing keys', async () => {
    const jwks = (await (await fetch(`${t.issuer}/jwks`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBeGreaterThanOrEqual(2); // active + staged for the next rotation
    for (const key of jwks.keys) {
      expect(key.kty).toBe('RSA');
      expect(key.d).toBeUndefined();
      expect(key.p).toBeUndefined();
    }
  });
});
