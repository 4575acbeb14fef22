/**
 * OIDC Core 5.5: the claims request parameter. An RP names single claims for the ID token, and
 * an essential `acr` claim naming urn:monban:acr:mfa demands the second factor without
 * acr_values: a session that has only a password is not answered silently.
 */
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { isLoginPage } from '../../helpers/account.js';
import {
  authorizationUrl,
  exchangeCode,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages } from '../../helpers/http-client.js';
import { jwtPayload } from '../../helpers/rp.js';

const MFA = 'urn:monban:acr:mfa';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
}, 60_000);
afterAll(() => t.close());

test('discovery says the claims parameter is supported', async () => {
  const metadata = (await (await fetch(`${t.issuer}/.well-known/openid-configuration`)).json()) as Record<
    string,
    unknown
  >;
  expect(metadata.claims_parameter_supported).toBe(true);
});

test('a claim asked for in the ID token is there; an essential MFA acr sends a password-only session back to the login', async () => {
  const user = await registerUser(t.app, { locale: 'en' });
  const client = await registerClient(t.app);
  const browser = new HttpClient({ 'accept-language': 'en' });
  const auth = authorizationUrl(t.issuer, client.client_id, {
    scope: 'openid',
    claims: JSON.stringify({ id_token: { email: { essential: true } } }),
  });
  const last = await loginThroughPages(browser, auth.url, RP_CALLBACK, { email: user.email, password: TEST_PASSWORD });
  const code = new URL(last.location!).searchParams.get('code')!;
  const tokens = (await (await exchangeCode(t.issuer, client, code, auth.verifier)).json()) as { id_token: string };
  const claims = jwtPayload(tokens.id_token);
  expect(claims.email).toBe(user.email);
  expect(claims.acr).toBe('urn:monban:acr:pwd');

  // The same browser, its session has a password only: an essential MFA acr is not answered silently.
  const demanding = authorizationUrl(t.issuer, client.client_id, {
    scope: 'openid',
    claims: JSON.stringify({ id_token: { acr: { essential: true, values: [MFA] } } }),
  });
  const asked = await browser.follow(demanding.url, RP_CALLBACK);
  expect(asked.location?.startsWith(RP_CALLBACK)).toBeFalsy();
  expect(isLoginPage(asked)).toBe(true);

  // With prompt=none the RP is told the login is needed.
  const silent = authorizationUrl(t.issuer, client.client_id, {
    scope: 'openid',
    prompt: 'none',
    claims: JSON.stringify({ id_token: { acr: { essential: true, value: MFA } } }),
  });
  const refused = await browser.follow(silent.url, RP_CALLBACK);
  expect(new URL(refused.location!).searchParams.get('error')).toBe('login_required');
});
