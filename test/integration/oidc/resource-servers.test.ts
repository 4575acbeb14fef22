/**
 * APIs as resource servers (RFC 8707, RFC 9068, RFC 7662): an admin registers
 * https://api.example.test through the admin API; a client asks for a token with
 * `resource=https://api.example.test` and gets a JWT access token that an API checks offline
 * with jose against the JWKS (aud = the resource); a token for another audience is refused. The
 * resource server's own credentials introspect the tokens issued for it, and not others'.
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { AdminApiClient, registerAdminClient } from '../../helpers/admin-api.js';
import { postAsClient, registerClient, registerUser, RP_CALLBACK } from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages } from '../../helpers/http-client.js';
import { RelyingParty } from '../../helpers/rp.js';

const API = 'https://api.example.test';
const OTHER_API = 'https://other-api.example.test';

let t: TestApp;
let api: AdminApiClient;
beforeAll(async () => {
  t = await startTestApp();
  api = new AdminApiClient(t.issuer);
  await api.loadDocument();
  await api.authenticate(await registerAdminClient(t.app));
}, 60_000);
afterAll(() => t.close());

interface Registered {
  identifier: string;
  client_id: string;
  client_secret: string;
  access_token_format: string;
}

async function registerApi(body: Record<string, unknown>): Promise<Registered> {
  const res = await api.call<Registered>('POST', '/resource-servers', { body });
  expect(res.status).toBe(201);
  return res.body;
}

async function introspect(caller: { client_id: string; client_secret: string }, token: string) {
  const res = await postAsClient(`${t.issuer}/token/introspection`, caller, { token });
  const body = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200) throw new Error(JSON.stringify(body));
  return body;
}

let orders: Registered;
let other: Registered;
beforeAll(async () => {
  orders = await registerApi({
    identifier: API,
    name: 'Orders API',
    scopes: ['orders:read', 'orders:write'],
    access_token_format: 'jwt',
    access_token_lifetime: 300,
  });
  other = await registerApi({
    identifier: OTHER_API,
    name: 'Other API',
    scopes: ['other:read'],
    access_token_format: 'opaque',
  });
});

test('the admin API lists, reads and changes resource servers, and refuses a bad identifier', async () => {
  const list = await api.call<{ items: { identifier: string }[] }>('GET', '/resource-servers');
  expect(list.body.items.map((r) => r.identifier)).toEqual(expect.arrayContaining([API, OTHER_API]));
  const one = await api.call('GET', `/resource-servers/${encodeURIComponent(API)}`);
  expect(one.body).toMatchObject({ identifier: API, access_token_format: 'jwt', access_token_lifetime: 300 });
  expect(one.body).not.toHaveProperty('client_secret');
  const patched = await api.call('PATCH', `/resource-servers/${encodeURIComponent(OTHER_API)}`, {
    body: { access_token_lifetime: 900 },
  });
  expect(patched.body).toMatchObject({
    identifier: OTHER_API,
    access_token_lifetime: 900,
    access_token_format: 'opaque',
  });
  const bad = await api.call('POST', '/resource-servers', { body: { identifier: 'not a uri', name: 'x' } });
  expect(bad.status).toBe(400);
  const plain = await api.call('POST', '/resource-servers', {
    body: { identifier: 'http://api.example.test', name: 'x' },
  });
  expect(plain.status).toBe(400);
});

test('an identifier registered already is refused with 409, even by two requests at once; no client is left over', async () => {
  const body = { identifier: 'https://twice.example.test', name: 'Twice API', scopes: ['twice:read'] };
  const both = await Promise.all([
    api.call<{ code?: string }>('POST', '/resource-servers', { body }),
    api.call<{ code?: string }>('POST', '/resource-servers', { body }),
  ]);
  expect(both.map((r) => r.status).sort()).toEqual([201, 409]);
  expect(both.find((r) => r.status === 409)!.body.code).toBe('RESOURCE_SERVER_EXISTS');
  const again = await api.call<{ code?: string }>('POST', '/resource-servers', { body });
  expect([again.status, again.body.code]).toEqual([409, 'RESOURCE_SERVER_EXISTS']);
  const clients = await t.app.db
    .selectFrom('oidc_clients')
    .select('client_id')
    .where('client_name', '=', 'Twice API (resource server)')
    .execute();
  expect(clients).toHaveLength(1);
});

test('a user logs in at an RP asking for the API: the JWT access token verifies with jose against the JWKS', async () => {
  const user = await registerUser(t.app, { locale: 'en' });
  const rpClient = await registerClient(t.app);
  const rp = await RelyingParty.discover(t.issuer, rpClient.client_id, rpClient.client_secret!);
  const pending = await rp.authorizationRequest({
    scope: 'openid orders:read',
    redirect_uri: RP_CALLBACK,
    resource: API,
  });
  const last = await loginThroughPages(
    new HttpClient({ 'accept-language': 'en' }),
    pending.url.toString(),
    RP_CALLBACK,
    {
      email: user.email,
      password: 'Kaisha-Pass-2026!',
    },
  );
  const tokens = await client.authorizationCodeGrant(
    rp.config,
    new URL(last.location!),
    { pkceCodeVerifier: pending.codeVerifier, expectedState: pending.state, expectedNonce: pending.nonce },
    { resource: API },
  );

  // What an API does with it (the README's example): verify offline against the JWKS.
  const jwks = createRemoteJWKSet(new URL(`${t.issuer}/jwks`));
  const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
    issuer: t.issuer,
    audience: API,
    typ: 'at+jwt',
  });
  expect(protectedHeader.typ).toBe('at+jwt');
  expect(payload.sub).toBe(user.id);
  expect(payload.client_id).toBe(rpClient.client_id);
  expect(payload.scope).toBe('orders:read');
  expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(300);

  // An API with another identifier refuses it.
  await expect(jwtVerify(tokens.access_token, jwks, { issuer: t.issuer, audience: OTHER_API })).rejects.toThrow(/aud/);

  // A JWT is checked against the JWKS, not introspected (oidc-provider answers unsupported_token_type).
  const res = await postAsClient(`${t.issuer}/token/introspection`, orders, { token: tokens.access_token });
  expect(((await res.json()) as { error: string }).error).toBe('unsupported_token_type');
});

test('client_credentials for an opaque-token API: only that API introspects it', async () => {
  const machine = await registerClient(t.app, { redirectUris: [], grants: ['client_credentials'] });
  const res = await postAsClient(`${t.issuer}/token`, machine, {
    grant_type: 'client_credentials',
    resource: OTHER_API,
    scope: 'other:read',
  });
  expect(res.status).toBe(200);
  const token = ((await res.json()) as { access_token: string }).access_token;
  expect(() => decodeProtectedHeader(token)).toThrow(); // opaque, not a JWT
  expect(await introspect(other, token)).toMatchObject({ active: true, aud: OTHER_API, scope: 'other:read' });
  expect(await introspect(orders, token)).toEqual({ active: false });

  // An unknown resource is invalid_target (RFC 8707 2).
  const unknown = await postAsClient(`${t.issuer}/token`, machine, {
    grant_type: 'client_credentials',
    resource: 'https://unknown.example.test',
  });
  expect(unknown.status).toBe(400);
  expect(((await unknown.json()) as { error: string }).error).toBe('invalid_target');
});

test('a deleted resource server is invalid_target from then on', async () => {
  const gone = await registerApi({ identifier: 'https://gone.example.test', name: 'Gone', scopes: ['g'] });
  expect((await api.call('DELETE', `/resource-servers/${encodeURIComponent(gone.identifier)}`)).status).toBe(204);
  const machine = await registerClient(t.app, { redirectUris: [], grants: ['client_credentials'] });
  const res = await postAsClient(`${t.issuer}/token`, machine, {
    grant_type: 'client_credentials',
    resource: gone.identifier,
  });
  expect(((await res.json()) as { error: string }).error).toBe('invalid_target');
  // Every documented success of /resource-servers was seen (each answer was checked against the OpenAPI document).
  for (const success of api.documentedSuccesses().filter((s) => s.includes('/resource-servers')))
    expect(api.seen).toContain(success);
});
