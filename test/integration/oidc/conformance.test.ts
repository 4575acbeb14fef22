/**
 * The modules of the OpenID conformance suite's plans that run offline (Basic OP, Config OP,
 * RP-initiated logout), named as in the plans (oidcc-*), so that a gap shows as a named failing
 * test. Each drives Monban as the suite does: an RP's authorization request in a browser (the
 * login pages), the token endpoint, userinfo and the end-session endpoint.
 */
import { startTestApp, type TestApp } from '../../helpers/app.js';
import {
  authorizationUrl,
  exchangeCode,
  postAsClient,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages, type PageResponse } from '../../helpers/http-client.js';
import { jwtPayload } from '../../helpers/rp.js';
import { LogoutRp } from '../../helpers/logout-rp.js';
import { createClient } from '../../../src/admin/clients.js';

type Client = Awaited<ReturnType<typeof registerClient>>;
interface Tokens {
  access_token: string;
  id_token: string;
  refresh_token?: string;
}

const POST_LOGOUT = 'http://localhost:8976/';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('OpenID conformance plan modules (offline)', () => {
  let t: TestApp;
  let client: Client;
  let email: string;

  beforeAll(async () => {
    t = await startTestApp();
    client = await registerClient(t.app, { postLogout: [POST_LOGOUT] });
    email = (await registerUser(t.app, { locale: 'en' })).email;
  });
  afterAll(async () => {
    await t?.close();
  });

  /** The query (or fragment) the RP's callback is sent with. */
  const callbackParams = (page: PageResponse): URLSearchParams => {
    expect(page.location?.startsWith(RP_CALLBACK)).toBe(true);
    const url = new URL(page.location!);
    return url.hash ? new URLSearchParams(url.hash.slice(1)) : url.searchParams;
  };

  /** A whole code flow in `browser` (logging in if asked); the tokens and the request's nonce and state. */
  async function codeFlow(browser = new HttpClient(), params: Record<string, string> = {}, rp: Client = client) {
    const auth = authorizationUrl(t.issuer, rp.client_id, params);
    const last = await loginThroughPages(browser, auth.url, RP_CALLBACK, { email, password: TEST_PASSWORD });
    const answer = callbackParams(last);
    expect(answer.get('state')).toBe(params.state ?? auth.state);
    const res = await exchangeCode(t.issuer, rp, answer.get('code')!, auth.verifier);
    expect(res.status).toBe(200);
    return { browser, auth, tokens: (await res.json()) as Tokens };
  }

  /** Where an authorization request sends a browser that is not (or is) logged in, without logging in. */
  async function authorize(params: Record<string, string>, browser = new HttpClient()) {
    return browser.follow(authorizationUrl(t.issuer, client.client_id, params).url, RP_CALLBACK);
  }

  /** The end-session endpoint with `params`, confirming on its page as the user would. */
  async function endSession(browser: HttpClient, params: Record<string, string>) {
    const url = new URL(`${t.issuer}/session/end`);
    url.search = new URLSearchParams(params).toString();
    const page = await browser.follow(url.toString(), POST_LOGOUT);
    if (page.location?.startsWith(POST_LOGOUT)) return page;
    // The confirmation page: the user confirms the logout.
    const form = page.body.match(/<form[^>]*action="([^"]+)"[\s\S]*?<\/form>/);
    if (!form) return page;
    const fields = Object.fromEntries(
      [...form[0].matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]),
    );
    return browser.follow(new URL(form[1]!.replace(/&amp;/g, '&'), t.issuer).toString(), POST_LOGOUT, {
      form: { ...fields, logout: 'yes' },
    });
  }

  describe('Basic OP', () => {
    test('oidcc-server: the code flow gives an ID token for this client and this request', async () => {
      const { auth, tokens } = await codeFlow();
      const claims = jwtPayload(tokens.id_token);
      expect(claims).toMatchObject({ iss: t.issuer, aud: client.client_id, nonce: auth.nonce });
      expect(claims.sub).toEqual(expect.any(String));
      expect(Number(claims.exp)).toBeGreaterThan(Number(claims.iat));
    });

    test('oidcc-response-type-missing: refused with invalid_request', async () => {
      const url = new URL(authorizationUrl(t.issuer, client.client_id).url);
      url.searchParams.delete('response_type');
      const res = await new HttpClient().follow(url.toString(), RP_CALLBACK);
      if (res.location?.startsWith(RP_CALLBACK)) expect(callbackParams(res).get('error')).toBe('invalid_request');
      else expect(res.status).toBe(400);
    });

    test('oidcc-ensure-request-without-nonce-succeeds-for-code-flow', async () => {
      const auth = authorizationUrl(t.issuer, client.client_id);
      const url = new URL(auth.url);
      url.searchParams.delete('nonce');
      const last = await loginThroughPages(new HttpClient(), url.toString(), RP_CALLBACK, {
        email,
        password: TEST_PASSWORD,
      });
      const res = await exchangeCode(t.issuer, client, callbackParams(last).get('code')!, auth.verifier);
      expect(res.status).toBe(200);
      expect(jwtPayload(((await res.json()) as Tokens).id_token).nonce).toBeUndefined();
    });

    test('oidcc-userinfo-get, oidcc-userinfo-post-header, oidcc-userinfo-post-body: the same claims every way', async () => {
      const { tokens } = await codeFlow();
      const sub = jwtPayload(tokens.id_token).sub;
      const get = await fetch(`${t.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      const postHeader = await fetch(`${t.issuer}/me`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      const postBody = await fetch(`${t.issuer}/me`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ access_token: tokens.access_token }),
      });
      for (const res of [get, postHeader, postBody]) {
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ sub, email });
      }
    });

    test('oidcc-scope-profile, oidcc-scope-email: the claims of the scopes asked for, and no others', async () => {
      const { tokens } = await codeFlow(new HttpClient(), { scope: 'openid email' });
      const info = (await (
        await fetch(`${t.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
      ).json()) as Record<string, unknown>;
      expect(info).toMatchObject({ email, email_verified: true });
      expect(info.given_name).toBeUndefined();
      const profile = await codeFlow(new HttpClient(), { scope: 'openid profile' });
      const withProfile = (await (
        await fetch(`${t.issuer}/me`, { headers: { authorization: `Bearer ${profile.tokens.access_token}` } })
      ).json()) as Record<string, unknown>;
      expect(withProfile.given_name).toEqual(expect.any(String));
      expect(withProfile.email).toBeUndefined();
    });

    test('oidcc-ensure-other-scope-order-succeeds', async () => {
      const { tokens } = await codeFlow(new HttpClient(), { scope: 'email openid' });
      expect(jwtPayload(tokens.id_token).aud).toBe(client.client_id);
    });

    test('oidcc-prompt-none-not-logged-in: login_required, back at the RP', async () => {
      const res = await authorize({ prompt: 'none' });
      expect(callbackParams(res).get('error')).toBe('login_required');
    });

    test('oidcc-prompt-none-logged-in and oidcc-id-token-hint: a code without any page', async () => {
      const { browser, tokens } = await codeFlow();
      const res = await authorize({ prompt: 'none', id_token_hint: tokens.id_token }, browser);
      expect(callbackParams(res).get('code')).toEqual(expect.any(String));
    });

    test('oidcc-prompt-login: the login page again although logged in', async () => {
      const { browser } = await codeFlow();
      const res = await authorize({ prompt: 'login' }, browser);
      expect(res.location?.startsWith(RP_CALLBACK) ?? false).toBe(false);
      expect(res.body).toContain('name="email"');
    });

    test('oidcc-max-age-1: after a second the login is asked again, and auth_time is in the ID token', async () => {
      const { browser } = await codeFlow();
      await sleep(2100);
      const res = await authorize({ max_age: '1' }, browser);
      expect(res.location?.startsWith(RP_CALLBACK) ?? false).toBe(false);
      const again = await codeFlow(browser, { max_age: '1' });
      expect(jwtPayload(again.tokens.id_token).auth_time).toEqual(expect.any(Number));
    });

    test('oidcc-codereuse: a code works once', async () => {
      const auth = authorizationUrl(t.issuer, client.client_id);
      const last = await loginThroughPages(new HttpClient(), auth.url, RP_CALLBACK, { email, password: TEST_PASSWORD });
      const code = callbackParams(last).get('code')!;
      expect((await exchangeCode(t.issuer, client, code, auth.verifier)).status).toBe(200);
      const again = await exchangeCode(t.issuer, client, code, auth.verifier);
      expect(again.status).toBe(400);
      expect(((await again.json()) as { error: string }).error).toBe('invalid_grant');
    });

    test('oidcc-ensure-registered-redirect-uri: an unregistered redirect_uri gets an error page, no redirect', async () => {
      const res = await authorize({ redirect_uri: 'https://attacker.example.com/cb' });
      expect(res.location).toBeUndefined();
      expect(res.status).toBe(400);
    });

    test('oidcc-server-client-secret-post and oidcc-refresh-token', async () => {
      const { tokens } = await codeFlow(new HttpClient(), { scope: 'openid offline_access', prompt: 'consent' });
      expect(tokens.refresh_token).toEqual(expect.any(String));
      // client_secret_post: the credentials in the body, not in the Authorization header.
      const res = await fetch(`${t.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: tokens.refresh_token!,
          client_id: client.client_id,
          client_secret: client.client_secret!,
        }),
      });
      expect(res.status).toBe(200);
      const refreshed = (await res.json()) as Tokens;
      expect(jwtPayload(refreshed.id_token).sub).toBe(jwtPayload(tokens.id_token).sub);
    });

    test('oidcc-ensure-post-request-succeeds: the authorization request as a form POST', async () => {
      const auth = authorizationUrl(t.issuer, client.client_id);
      const browser = new HttpClient();
      const page = await browser.request(`${t.issuer}/auth`, {
        method: 'POST',
        form: Object.fromEntries(new URL(auth.url).searchParams),
      });
      expect(page.status).toBe(303);
      const login = await browser.follow(page.location!, RP_CALLBACK);
      expect(login.body).toContain('name="email"');
    });
  });

  describe('Config OP', () => {
    test('oidcc-discovery-endpoint-verification: the issuer and every endpoint on it, keys at jwks_uri', async () => {
      const meta = (await (await fetch(`${t.issuer}/.well-known/openid-configuration`)).json()) as Record<
        string,
        string
      >;
      expect(meta.issuer).toBe(t.issuer);
      for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri'])
        expect(meta[endpoint]?.startsWith(`${t.issuer}/`)).toBe(true);
      const jwks = (await (await fetch(meta.jwks_uri!)).json()) as { keys: { kid?: string; use?: string }[] };
      expect(jwks.keys.every((k) => typeof k.kid === 'string')).toBe(true);
    });
  });

  describe('RP-initiated logout', () => {
    test('oidcc-rp-initiated-logout: back at post_logout_redirect_uri with the state, and logged out', async () => {
      const { browser, tokens } = await codeFlow();
      const page = await endSession(browser, {
        id_token_hint: tokens.id_token,
        post_logout_redirect_uri: POST_LOGOUT,
        state: 'xyz-123',
      });
      expect(page.location?.startsWith(POST_LOGOUT)).toBe(true);
      expect(new URL(page.location!).searchParams.get('state')).toBe('xyz-123');
      const after = await authorize({ prompt: 'none' }, browser);
      expect(callbackParams(after).get('error')).toBe('login_required');
    });

    test('oidcc-rp-initiated-logout-bad-post-logout-redirect-uri: an error page, never that address', async () => {
      const { browser, tokens } = await codeFlow();
      const page = await browser.follow(
        `${t.issuer}/session/end?${new URLSearchParams({
          id_token_hint: tokens.id_token,
          post_logout_redirect_uri: 'https://attacker.example.com/',
        }).toString()}`,
      );
      expect(page.location).toBeUndefined();
      expect(page.status).toBe(400);
    });

    test('oidcc-rp-initiated-logout-no-params: the user is asked, and then logged out', async () => {
      const { browser } = await codeFlow();
      await endSession(browser, {});
      const after = await authorize({ prompt: 'none' }, browser);
      expect(callbackParams(after).get('error')).toBe('login_required');
    });
  });

  describe('Back-channel logout', () => {
    test('oidcc-backchannel-rp-initiated-logout: the RP gets a logout token with the sid and sub of its ID token', async () => {
      const rp = await new LogoutRp(t.issuer).start();
      try {
        const withLogout = await createClient(t.app, {
          name: 'Back-channel RP',
          redirectUris: [RP_CALLBACK],
          postLogoutRedirectUris: [POST_LOGOUT],
          backchannelLogoutUri: rp.uri,
        });
        rp.clientId = withLogout.client_id;
        const { browser, tokens } = await codeFlow(new HttpClient(), {}, withLogout);
        const claims = jwtPayload(tokens.id_token);
        expect(claims.sid).toEqual(expect.any(String));
        await endSession(browser, { id_token_hint: tokens.id_token, post_logout_redirect_uri: POST_LOGOUT });
        const [token] = await rp.waitFor(1);
        expect(token).toMatchObject({ sid: claims.sid, sub: claims.sub, aud: withLogout.client_id, iss: t.issuer });
        expect(rp.refused).toEqual([]);
      } finally {
        await rp.stop();
      }
    });
  });

  test('the token endpoint names an unknown client invalid_client', async () => {
    const res = await postAsClient(
      `${t.issuer}/token`,
      { client_id: 'nobody', client_secret: 'x' },
      {
        grant_type: 'client_credentials',
      },
    );
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
  });
});
