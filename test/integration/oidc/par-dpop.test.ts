/**
 * PAR (RFC 9126) and DPoP (RFC 9449) per client, with openid-client: a client registered with
 * require_pushed_authorization_requests may only start a login through PAR, and one with
 * dpop_bound_access_tokens only gets access tokens bound to its DPoP key.
 */
import * as client from 'openid-client';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { AdminApiClient, registerAdminClient } from '../../helpers/admin-api.js';
import { registerUser, RP_CALLBACK, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages } from '../../helpers/http-client.js';
import { RelyingParty } from '../../helpers/rp.js';

let t: TestApp;
let api: AdminApiClient;
beforeAll(async () => {
  t = await startTestApp();
  api = new AdminApiClient(t.issuer);
  await api.loadDocument();
  await api.authenticate(await registerAdminClient(t.app));
}, 60_000);
afterAll(() => t.close());

async function rpWith(settings: Record<string, boolean>): Promise<RelyingParty> {
  const created = await api.call<{ client_id: string; client_secret: string } & Record<string, unknown>>(
    'POST',
    '/clients',
    { body: { client_name: 'Strict RP', redirect_uris: [RP_CALLBACK], ...settings } },
  );
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject(settings);
  return RelyingParty.discover(t.issuer, created.body.client_id, created.body.client_secret);
}

test('require PAR: a plain authorization request is refused, one pushed with openid-client logs in', async () => {
  const user = await registerUser(t.app, { locale: 'en' });
  const rp = await rpWith({ require_pushed_authorization_requests: true });
  expect(rp.metadata.pushed_authorization_request_endpoint).toEqual(expect.any(String));

  const plain = await rp.authorizationRequest({ scope: 'openid', redirect_uri: RP_CALLBACK });
  const refused = await new HttpClient().follow(plain.url.toString(), RP_CALLBACK);
  expect(refused.location ?? refused.body).toMatch(/invalid_request/);

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = await client.buildAuthorizationUrlWithPAR(rp.config, {
    scope: 'openid',
    redirect_uri: RP_CALLBACK,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
  const last = await loginThroughPages(new HttpClient({ 'accept-language': 'en' }), url.toString(), RP_CALLBACK, {
    email: user.email,
    password: TEST_PASSWORD,
  });
  const tokens = await client.authorizationCodeGrant(rp.config, new URL(last.location!), {
    pkceCodeVerifier: verifier,
    expectedState: state,
  });
  expect(tokens.claims()?.sub).toBe(user.id);
});

test('require DPoP: the code is redeemed only with a DPoP proof, and the access token is bound to the key', async () => {
  const user = await registerUser(t.app, { locale: 'en' });
  const rp = await rpWith({ dpop_bound_access_tokens: true });
  expect(rp.metadata.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256']));

  const withoutProof = await rp.authorizationRequest({ scope: 'openid', redirect_uri: RP_CALLBACK });
  const first = await loginThroughPages(new HttpClient(), withoutProof.url.toString(), RP_CALLBACK, {
    email: user.email,
    password: TEST_PASSWORD,
  });
  await expect(rp.redeem(new URL(first.location!), withoutProof)).rejects.toThrow();

  const keyPair = await client.randomDPoPKeyPair('ES256');
  const DPoP = client.getDPoPHandle(rp.config, keyPair);
  const pending = await rp.authorizationRequest({ scope: 'openid', redirect_uri: RP_CALLBACK });
  const last = await loginThroughPages(new HttpClient(), pending.url.toString(), RP_CALLBACK, {
    email: user.email,
    password: TEST_PASSWORD,
  });
  const tokens = await client.authorizationCodeGrant(
    rp.config,
    new URL(last.location!),
    { pkceCodeVerifier: pending.codeVerifier, expectedState: pending.state, expectedNonce: pending.nonce },
    undefined,
    { DPoP },
  );
  expect(tokens.token_type.toLowerCase()).toBe('dpop');
  // Userinfo accepts the token with a proof of the same key, and not as a plain bearer token.
  const info = await client.fetchUserInfo(rp.config, tokens.access_token, user.id, { DPoP });
  expect(info.sub).toBe(user.id);
  const bearer = await fetch(rp.metadata.userinfo_endpoint!, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  expect(bearer.status).toBe(401);
});
