import { startTestApp, type TestApp } from '../../helpers/app.js';

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
