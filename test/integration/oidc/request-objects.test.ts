/**
 * Signed request objects (JAR, RFC 9101) with openid-client: a client registered with public keys
 * (jwks) may send its authorization request as a request object signed with them; one registered
 * with require_signed_request_object must. Unsigned request objects, other keys and HS256 with the
 * client secret are refused; discovery says what is supported.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey } from 'jose';
import * as client from 'openid-client';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { AdminApiClient, registerAdminClient } from '../../helpers/admin-api.js';
import { createScratchDatabase } from '../../helpers/databases.js';
import { registerUser, RP_CALLBACK, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages } from '../../helpers/http-client.js';
import { RelyingParty } from '../../helpers/rp.js';
import { cliEnv, runAdminCli } from '../../helpers/admin-cli.js';

let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let t: TestApp;
let api: AdminApiClient;
beforeAll(async () => {
  scratch = await createScratchDatabase();
  t = await startTestApp({ overrides: { databaseUrl: scratch.url } });
  api = new AdminApiClient(t.issuer);
  await api.loadDocument();
  await api.authenticate(await registerAdminClient(t.app));
}, 60_000);
afterAll(async () => {
  await t?.close();
  await scratch?.drop();
});

interface Created {
  client_id: string;
  client_secret: string;
  require_signed_request_object: boolean;
  jwks?: { keys: Record<string, unknown>[] };
}

async function keyPair(alg: 'ES256' | 'RS256' | 'PS256' = 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), alg, use: 'sig', kid: `${alg}-${Date.now()}` };
  return { privateKey, jwk };
}

function createClient(body: Record<string, unknown>) {
  return api.call<Created & { detail?: string }>('POST', '/clients', {
    body: { client_name: 'JAR RP', redirect_uris: [RP_CALLBACK], ...body },
  });
}

async function created(body: Record<string, unknown>): Promise<Created> {
  const answer = await createClient(body);
  expect([answer.status, answer.body.detail]).toEqual([201, undefined]);
  return answer.body;
}

/** openid-client's signed authorization request, then the login through the pages and the code. */
async function signedLogin(rp: RelyingParty, key: CryptoKey, kid: string, email: string) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = await client.buildAuthorizationUrlWithJAR(
    rp.config,
    {
      scope: 'openid email',
      redirect_uri: RP_CALLBACK,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    },
    { key, kid },
  );
  expect(url.searchParams.get('request')).toEqual(expect.any(String));
  const last = await loginThroughPages(new HttpClient({ 'accept-language': 'en' }), url.toString(), RP_CALLBACK, {
    email,
    password: TEST_PASSWORD,
  });
  const callback = new URL(last.location!);
  return { callback, verifier, state, nonce };
}

/** Where a request with these parameters ends up: the error sent back to the RP's callback. */
async function refusal(params: Record<string, string>): Promise<URLSearchParams> {
  const url = new URL(`${t.issuer}/auth`);
  url.search = new URLSearchParams(params).toString();
  const answer = await new HttpClient().follow(url.toString(), RP_CALLBACK);
  const location = answer.location ?? '';
  expect(location.startsWith(RP_CALLBACK)).toBe(true);
  return new URL(location).searchParams;
}

/** A request object as a JWT signed with `key` (what openid-client sends), with these claims. */
function requestObject(clientId: string, claims: Record<string, unknown> = {}) {
  return {
    client_id: clientId,
    iss: clientId,
    aud: t.issuer,
    response_type: 'code',
    redirect_uri: RP_CALLBACK,
    scope: 'openid',
    state: 'abc',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    ...claims,
  };
}

test('discovery says signed request objects are supported, with the algorithms truly accepted', async () => {
  const meta = (await (await fetch(`${t.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  expect(meta.request_parameter_supported).toBe(true);
  expect(meta.request_uri_parameter_supported).toBe(false);
  expect(meta.request_object_signing_alg_values_supported).toEqual(['RS256', 'PS256', 'ES256', 'EdDSA']);
  expect(meta).not.toHaveProperty('require_signed_request_object');
});

test('a client that requires request objects logs in with one signed by its key; a plain request is refused', async () => {
  const user = await registerUser(t.app, { locale: 'en' });
  const { privateKey, jwk } = await keyPair('ES256');
  const strict = await created({ jwks: { keys: [jwk] }, require_signed_request_object: true });
  expect(strict.require_signed_request_object).toBe(true);
  expect(strict.jwks).toEqual({ keys: [jwk] });
  const rp = await RelyingParty.discover(t.issuer, strict.client_id, strict.client_secret);

  const { callback, verifier, state, nonce } = await signedLogin(rp, privateKey, jwk.kid, user.email);
  const tokens = await client.authorizationCodeGrant(rp.config, callback, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
  });
  expect(tokens.claims()?.sub).toBe(user.id);

  const plain = await rp.authorizationRequest({ scope: 'openid', redirect_uri: RP_CALLBACK });
  const answer = await new HttpClient().follow(plain.url.toString(), RP_CALLBACK);
  const error = new URL(answer.location!).searchParams;
  expect(error.get('error')).toBe('invalid_request');
  expect(error.get('error_description')).toMatch(/Request Object must be used/);
}, 60_000);

test('request objects signed with another key, unsigned, with HS256 or without exp are refused', async () => {
  const { privateKey, jwk } = await keyPair('RS256');
  const other = await keyPair('RS256');
  const rpClient = await created({ jwks: { keys: [jwk] } });
  const id = rpClient.client_id;
  const sign = (key: CryptoKey, claims: Record<string, unknown> = {}) =>
    new SignJWT(requestObject(id, claims))
      .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'oauth-authz-req+jwt' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);

  const wrongKey = await refusal({ client_id: id, request: await sign(other.privateKey) });
  expect(wrongKey.get('error')).toBe('invalid_request_object');
  expect(wrongKey.get('error_description')).toMatch(/could not validate Request Object/);
  const unsigned = await refusal({
    client_id: id,
    request: new UnsecuredJWT(requestObject(id)).setIssuedAt().setExpirationTime('5m').encode(),
  });
  expect(unsigned.get('error')).toBe('invalid_request_object');
  expect(unsigned.get('error_description')).toMatch(/unsupported signed request alg/);
  const hmac = await refusal({
    client_id: id,
    request: await new SignJWT(requestObject(id))
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(rpClient.client_secret)),
  });
  expect(hmac.get('error')).toBe('invalid_request_object');
  expect(hmac.get('error_description')).toMatch(/unsupported signed request alg/);
  const noExp = await refusal({
    client_id: id,
    request: await new SignJWT(requestObject(id)).setProtectedHeader({ alg: 'RS256', kid: jwk.kid }).sign(privateKey),
  });
  expect(noExp.get('error')).toBe('invalid_request_object');
  expect(noExp.get('error_description')).toMatch(/exp/);
  const otherAudience = await refusal({ client_id: id, request: await sign(privateKey, { aud: 'https://elsewhere' }) });
  expect(otherAudience.get('error')).toBe('invalid_request_object');
  expect(otherAudience.get('error_description')).toMatch(/claims are invalid/);

  // The same client may still send a plain request (it does not require request objects), and a
  // correctly signed one is taken: the login page shows.
  const good = await new HttpClient().follow(
    `${t.issuer}/auth?${new URLSearchParams({ client_id: id, request: await sign(privateKey) }).toString()}`,
    RP_CALLBACK,
  );
  expect(good.location?.startsWith(RP_CALLBACK) ?? false).toBe(false);
  expect(good.status).toBe(200);
}, 60_000);

test('keys are checked at registration: public keys only, jwks or jwks_uri, and the requirement needs keys', async () => {
  const { jwk } = await keyPair('ES256');
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ require_signed_request_object: true }, /needs the client's public keys/],
    [{ jwks: { keys: [await exportJWK(privateKey)] } }, /public keys only/],
    [{ jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, /public RSA, EC or OKP keys only/],
    [{ jwks: { keys: [jwk] }, jwks_uri: 'https://rp.example.com/jwks' }, /jwks or jwks_uri, not both/],
    [{ jwks_uri: 'http://rp.example.com/jwks' }, /https/],
  ];
  for (const [body, message] of cases) {
    const answer = await createClient(body);
    expect([answer.status, answer.body.detail]).toEqual([400, expect.stringMatching(message)]);
  }
  const byUri = await created({ jwks_uri: 'https://rp.example.com/jwks', require_signed_request_object: true });
  expect(byUri).toMatchObject({ jwks_uri: 'https://rp.example.com/jwks', require_signed_request_object: true });

  // PATCH: keys given one way replace the other; removing them while they are required is refused.
  const listed = await api.call<Created>('PATCH', `/clients/${byUri.client_id}`, { body: { jwks: { keys: [jwk] } } });
  expect([listed.status, (listed.body as { detail?: string }).detail]).toEqual([200, undefined]);
  expect(listed.body).not.toHaveProperty('jwks_uri');
  const removed = await api.call('PATCH', `/clients/${byUri.client_id}`, { body: { jwks: null } });
  expect(removed.status).toBe(400);
  const relaxed = await api.call<Created>('PATCH', `/clients/${byUri.client_id}`, {
    body: { jwks: null, require_signed_request_object: false },
  });
  expect(relaxed.status).toBe(200);
  expect(relaxed.body).not.toHaveProperty('jwks');
});

test('the CLI registers a client with a key file that requires request objects, and lifts it', async () => {
  const { jwk } = await keyPair('ES256');
  const dir = mkdtempSync(path.join(tmpdir(), 'monban-jwks-'));
  try {
    const file = path.join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [jwk] }));
    const made = await cli(
      ...['client', 'create', '--name', 'CLI JAR', '--redirect-uri', RP_CALLBACK],
      ...['--jwks-file', file, '--require-signed-request-object'],
    );
    expect([made.code, made.stderr]).toEqual([0, '']);
    const createdByCli = JSON.parse(made.stdout) as Created;
    expect(createdByCli).toMatchObject({ require_signed_request_object: true, jwks: { keys: [jwk] } });
    const [lifted, both] = await Promise.all([
      cli('client', 'update', createdByCli.client_id, '--no-require-signed-request-object'),
      cli('client', 'update', createdByCli.client_id, '--jwks-file', file, '--no-jwks'),
    ]);
    expect(JSON.parse(lifted.stdout)).toMatchObject({ require_signed_request_object: false });
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/one of --jwks-file, --jwks-uri and --no-jwks/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);

/** `npm run admin -- ...` on the test database (the CLI's direct back end), as an operator runs it. */
const cli = (...args: string[]) => runAdminCli(args, cliEnv(scratch.url));
