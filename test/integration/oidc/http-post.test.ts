/**
 * OIDC Core 3.1.2.1 and RP-Initiated Logout 1.0 section 2: the authorization and end-session
 * endpoints accept the request as an HTML form POST as well as a GET. An RP built on
 * openid-client sends its request as a form, the user logs in through the pages, the code is
 * redeemed by openid-client; then the RP logs the user out with a POSTed end-session request.
 */
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { registerClient, registerUser, RP_CALLBACK } from '../../helpers/fixtures.js';
import { HttpClient, hiddenInputs, loginThroughPages, type PageResponse } from '../../helpers/http-client.js';
import { RelyingParty } from '../../helpers/rp.js';

const POST_LOGOUT = 'http://localhost:8976/';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
}, 60_000);
afterAll(() => t.close());

/** What a browser does with an auto-submitted form: POSTs the URL's parameters to its endpoint. */
function asForm(url: URL): { endpoint: string; form: Record<string, string> } {
  return { endpoint: `${url.origin}${url.pathname}`, form: Object.fromEntries(url.searchParams) };
}

async function followPost(browser: HttpClient, url: URL, stopAt?: string): Promise<PageResponse> {
  const { endpoint, form } = asForm(url);
  const first = await browser.request(endpoint, { form });
  if (!first.location || (stopAt && first.location.startsWith(stopAt))) return first;
  return browser.follow(first.location, stopAt);
}

test('an authorization request POSTed as a form logs the user in, and a POSTed end-session request logs out', async () => {
  const user = await registerUser(t.app, { locale: 'en' });
  const client = await registerClient(t.app, { postLogout: [POST_LOGOUT] });
  const rp = await RelyingParty.discover(t.issuer, client.client_id, client.client_secret!);
  const browser = new HttpClient({ 'accept-language': 'en' });

  // The POST answers like the GET: off to the login pages.
  const pending = await rp.authorizationRequest({ scope: 'openid email', redirect_uri: RP_CALLBACK });
  const { endpoint, form } = asForm(pending.url);
  const answer = await browser.request(endpoint, { form });
  expect(answer.status).toBeLessThan(400);
  expect(answer.location).toMatch(/\/interaction\//);

  const last = await loginThroughPages(browser, answer.location!, RP_CALLBACK, {
    email: user.email,
    password: 'Kaisha-Pass-2026!',
  });
  expect(last.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
  // A plain-http issuer cannot send the Secure cookie SameSite=None needs: its session cookie is Lax.
  const session = (await browser.jar.getCookies(t.issuer)).find((c) => c.key === 'monban_session');
  expect(session?.sameSite).toBe('lax');
  const tokens = await rp.redeem(new URL(last.location!), pending);
  expect(tokens.claims()?.sub).toBe(user.id);

  // Already logged in: a second POSTed request with prompt=none comes straight back with a code.
  const silent = await rp.authorizationRequest({ scope: 'openid', redirect_uri: RP_CALLBACK, prompt: 'none' });
  const back = await followPost(browser, silent.url, RP_CALLBACK);
  expect(back.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
  await rp.redeem(new URL(back.location!), silent);

  // RP-initiated logout as a POST: the "log out?" page, then back to the RP.
  const logoutPage = await followPost(
    browser,
    rp.endSessionUrl({ id_token_hint: tokens.id_token!, post_logout_redirect_uri: POST_LOGOUT, state: 'bye' }),
  );
  expect(logoutPage.status).toBe(200);
  const confirmed = await browser.request(`${t.issuer}/session/end/confirm`, {
    form: { ...hiddenInputs(logoutPage.body, '/session/end/confirm'), logout: 'yes' },
  });
  expect(confirmed.location).toBe(`${POST_LOGOUT}?state=bye`);

  // Logged out: prompt=none now answers login_required.
  const after = await rp.authorizationRequest({ scope: 'openid', redirect_uri: RP_CALLBACK, prompt: 'none' });
  const refused = await followPost(browser, after.url, RP_CALLBACK);
  expect(new URL(refused.location!).searchParams.get('error')).toBe('login_required');
});

test('a POST that is not a form is refused, not ignored', async () => {
  const res = await fetch(`${t.issuer}/auth`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
    redirect: 'manual',
  });
  expect(res.status).toBe(400);
});
