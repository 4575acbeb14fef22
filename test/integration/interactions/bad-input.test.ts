import { startTestApp, type TestApp } from '../../helpers/app.js';
import {
  authorizationUrl,
  exchangeCode,
  messageText,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import {
  alertText,
  expectNoInternals,
  formAction,
  HttpClient,
  inputValue,
  loginThroughPages,
  openPasswordStep,
  submitForm,
  type PageResponse,
} from '../../helpers/http-client.js';

const english = () => new HttpClient({ 'accept-language': 'en' });

/** An HTML error page showing `key` from en.json. */
function expectErrorPage(res: PageResponse, status: number, key: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toContain('text/html');
  expect(alertText(res.body)).toBe(messageText('en', key));
  expectNoInternals(res);
}

describe('bad input gets a clear answer, never a crash', () => {
  let t: TestApp;
  let client: Awaited<ReturnType<typeof registerClient>>;

  beforeAll(async () => {
    t = await startTestApp();
    client = await registerClient(t.app);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** An authorization URL with some parameters replaced (undefined removes one). */
  function authUrl(changes: Record<string, string | undefined>) {
    const auth = authorizationUrl(t.issuer, client.client_id);
    const url = new URL(auth.url);
    for (const [name, value] of Object.entries(changes)) {
      if (value === undefined) url.searchParams.delete(name);
      else url.searchParams.set(name, value);
    }
    return { ...auth, url: url.toString() };
  }

  describe('authorization requests', () => {
    it('shows an error page for an unknown client_id', async () => {
      const res = await english().request(authUrl({ client_id: 'no-such-client' }).url);
      expectErrorPage(res, 400, 'errors.OAUTH');
      expect(res.location).toBeUndefined();
      expect(res.body).toContain('<code>invalid_client</code>');
    });

    it.each([
      ['host in capitals', 'http://LOCALHOST:8976/cb'],
      ['path in capitals', 'http://localhost:8976/CB'],
      ['an extra path segment', 'http://localhost:8976/cb/extra'],
      ['a trailing slash', 'http://localhost:8976/cb/'],
      ['a query string added', 'http://localhost:8976/cb?next=/admin'],
      ['a fragment added', 'http://localhost:8976/cb#x'],
      ['a look-alike host', 'http://localhost.evil.com/cb'],
      ['userinfo hiding another host', 'http://localhost:8976@evil.com/cb'],
      ['127.0.0.1 instead of localhost', 'http://127.0.0.1:8976/cb'],
      ['a different port', 'http://localhost:8977/cb'],
      ['no port', 'http://localhost/cb'],
      ['https instead of http', 'https://localhost:8976/cb'],
      ['another site', 'https://evil.example.com/cb'],
    ])('never redirects to a redirect_uri with %s (exact match only)', async (_label, redirectUri) => {
      const res = await english().request(authUrl({ redirect_uri: redirectUri }).url);
      expect(res.headers.get('location')).toBeNull();
      expectErrorPage(res, 400, 'errors.OAUTH');
      expect(res.body).toContain('<code>invalid_redirect_uri</code>');
    });

    /** Refusals after the redirect_uri is known go back to the RP as OAuth errors, without a code. */
    function expectRefusedToRp(res: PageResponse, error: string, state: string): URLSearchParams {
      expect(res.status).toBe(303);
      expect(res.location?.startsWith(`${RP_CALLBACK}?`) || res.location?.startsWith(`${RP_CALLBACK}#`)).toBe(true);
      const url = new URL(res.location!);
      const params = new URLSearchParams(url.search || url.hash.slice(1));
      expect(params.get('error')).toBe(error);
      expect(params.get('state')).toBe(state);
      expect(params.get('code')).toBeNull();
      expect(params.get('access_token')).toBeNull();
      return params;
    }

    it('refuses a request without PKCE', async () => {
      const auth = authUrl({ code_challenge: undefined, code_challenge_method: undefined });
      const params = expectRefusedToRp(await english().request(auth.url), 'invalid_request', auth.state);
      expect(params.get('error_description')).toMatch(/PKCE/);
    });

    it('refuses code_challenge_method=plain', async () => {
      const auth = authorizationUrl(t.issuer, client.client_id);
      const url = new URL(auth.url);
      url.searchParams.set('code_challenge_method', 'plain');
      url.searchParams.set('code_challenge', auth.verifier);
      const params = expectRefusedToRp(await english().request(url.toString()), 'invalid_request', auth.state);
      expect(params.get('error_description')).toMatch(/code_challenge_method/);
    });

    it.each(['token', 'id_token token', 'code token'])('refuses response_type=%s', async (responseType) => {
      const auth = authUrl({ response_type: responseType });
      expectRefusedToRp(await english().request(auth.url), 'unsupported_response_type', auth.state);
    });
  });

  describe('forms', () => {
    async function emailPage(browser: HttpClient): Promise<PageResponse> {
      const page = await browser.follow(authorizationUrl(t.issuer, client.client_id).url);
      expect(page.status).toBe(200);
      return page;
    }

    it('refuses the email form with a forged, foreign or missing CSRF token', async () => {
      const browser = english();
      const page = await emailPage(browser);
      const attacker = english();
      const attackerToken = inputValue((await emailPage(attacker)).body, '_csrf')!;
      const forged = await submitForm(browser, page, '/email', { _csrf: 'forged-token', email: 'a@example.com' });
      const foreign = await submitForm(browser, page, '/email', { _csrf: attackerToken, email: 'a@example.com' });
      const missing = await browser.request(new URL(formAction(page.body, '/email')!, t.issuer).toString(), {
        form: { email: 'a@example.com' },
      });
      for (const res of [forged, foreign, missing]) {
        expectErrorPage(res, 403, 'errors.CSRF_FAILED');
        expect(res.location).toBeUndefined();
      }
      // The real token still works afterwards.
      const ok = await submitForm(browser, page, '/email', { email: 'a@example.com' });
      expect(ok.status).toBe(200);
      expect(formAction(ok.body, '/password')).toBeDefined();
    });

    it('refuses the password form with a forged or missing CSRF token, without checking the password', async () => {
      const user = await registerUser(t.app);
      const browser = english();
      const page = await openPasswordStep(browser, authorizationUrl(t.issuer, client.client_id).url, user.email);
      const forged = await submitForm(browser, page, '/password', { _csrf: 'forged-token', password: TEST_PASSWORD });
      const empty = await submitForm(browser, page, '/password', { _csrf: '', password: TEST_PASSWORD });
      const missing = await browser.request(new URL(formAction(page.body, '/password')!, t.issuer).toString(), {
        form: { password: TEST_PASSWORD },
      });
      for (const res of [forged, empty, missing]) {
        expectErrorPage(res, 403, 'errors.CSRF_FAILED');
        expect(res.location).toBeUndefined();
      }
      const events = await t.app.db
        .selectFrom('audit_events')
        .select('type')
        .where('account_id', '=', user.id)
        .execute();
      expect(events).toEqual([]);
    });

    it('answers an oversize form body with 413 and a message', async () => {
      const browser = english();
      const page = await openPasswordStep(browser, authorizationUrl(t.issuer, client.client_id).url, 'big@example.com');
      expect(t.app.config.bodyLimitBytes).toBeLessThan(100_000);
      const res = await submitForm(browser, page, '/password', { password: 'x'.repeat(100_000) });
      expectErrorPage(res, 413, 'errors.BODY_TOO_LARGE');
      const email = await submitForm(browser, await emailPage(browser), '/email', {
        email: `${'a'.repeat(100_000)}@example.com`,
      });
      expectErrorPage(email, 413, 'errors.BODY_TOO_LARGE');
    });

    it('stops reading a body sent without a length once it passes the limit (413)', async () => {
      const chunk = new TextEncoder().encode(`password=${'x'.repeat(10_000)}`);
      let sent = 0;
      const endless = new ReadableStream<Uint8Array>({
        pull(controller) {
          sent += chunk.length;
          if (sent > 10_000_000) controller.close();
          else controller.enqueue(chunk);
        },
      });
      const streamed = await fetch(`${t.issuer}/interaction/xyz/password`, {
        method: 'POST',
        headers: { 'accept-language': 'en', 'content-type': 'application/x-www-form-urlencoded' },
        body: endless,
        duplex: 'half',
      });
      expect(streamed.status).toBe(413);
      expect(alertText(await streamed.text())).toBe(messageText('en', 'errors.BODY_TOO_LARGE'));
      expect(sent).toBeLessThan(10_000_000);
    });

    it('answers a 10,000-character email address with the too-long message', async () => {
      const browser = english();
      const page = await emailPage(browser);
      const longEmail = `${'a'.repeat(10_000)}@example.com`;
      const res = await submitForm(browser, page, '/email', { email: longEmail });
      expect(res.status).toBe(400);
      expect(alertText(res.body)).toBe(messageText('en', 'errors.EMAIL_TOO_LONG'));
      expectNoInternals(res);
      expect(res.body).not.toContain(longEmail);
      expect(res.body).toContain('action="/interaction/'); // the form is shown again to correct it
    });

    it('renders HTML and script typed into the email field as text', async () => {
      const browser = english();
      const page = await emailPage(browser);
      const payload = '"><script>alert(1)</script><img src=x onerror=alert(2)>';
      const res = await submitForm(browser, page, '/email', { email: payload });
      expect(res.status).toBe(400);
      expect(alertText(res.body)).toBe(messageText('en', 'errors.EMAIL_INVALID'));
      expect(res.body).not.toContain('<script>alert(1)</script>');
      expect(res.body).not.toContain('<img src=x');
      expect(res.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(inputValue(res.body, 'email')).toContain('&lt;script&gt;');
    });

    it('renders HTML in login_hint as text', async () => {
      const res = await english().follow(authUrl({ login_hint: '"><script>alert(1)</script>' }).url);
      expect(res.status).toBe(200);
      expect(res.body).not.toContain('<script>alert(1)</script>');
      expect(res.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    });
  });

  describe('unknown pages', () => {
    it('shows the expired message for an interaction that does not exist', async () => {
      expectErrorPage(await english().request(`${t.issuer}/interaction/xyz`), 400, 'errors.INTERACTION_EXPIRED');
      // Also from a browser in the middle of another login.
      const browser = english();
      await browser.follow(authorizationUrl(t.issuer, client.client_id).url);
      expectErrorPage(await browser.request(`${t.issuer}/interaction/xyz`), 400, 'errors.INTERACTION_EXPIRED');
      expectErrorPage(await browser.request(`${t.issuer}/interaction/xyz/password`), 400, 'errors.INTERACTION_EXPIRED');
    });

    it('shows a not-found page to browsers and JSON to API callers', async () => {
      expectErrorPage(await english().request(`${t.issuer}/no/such/page`), 404, 'errors.NOT_FOUND');
      const res = await fetch(`${t.issuer}/no/such/page`, { headers: { accept: 'application/json' } });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect(await res.json()).toEqual({ error: 'NOT_FOUND' });
    });

    it('answers JSON callers of a form endpoint with a JSON error', async () => {
      const res = await fetch(`${t.issuer}/interaction/xyz/password`, {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body: 'password=x',
      });
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ error: 'CSRF_FAILED' });
    });
  });

  describe('authorization codes are single-use', () => {
    async function codeFor(user: { email: string }) {
      const auth = authorizationUrl(t.issuer, client.client_id);
      const last = await loginThroughPages(english(), auth.url, RP_CALLBACK, {
        email: user.email,
        password: TEST_PASSWORD,
      });
      const code = new URL(last.location!).searchParams.get('code');
      expect(code).toBeTruthy();
      return { code: code!, verifier: auth.verifier };
    }

    it('refuses a second exchange of a code with invalid_grant and revokes what the first one got', async () => {
      const user = await registerUser(t.app);
      const { code, verifier } = await codeFor(user);
      const first = await exchangeCode(t.issuer, client, code, verifier);
      expect(first.status).toBe(200);
      const tokens = (await first.json()) as { access_token: string };
      const userinfo = () => fetch(`${t.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect((await userinfo()).status).toBe(200);

      const second = await exchangeCode(t.issuer, client, code, verifier);
      expect(second.status).toBe(400);
      expect(await second.json()).toMatchObject({ error: 'invalid_grant' });
      // RFC 6749 4.1.2: a replayed code revokes the tokens issued for it.
      expect((await userinfo()).status).toBe(401);
    });

    it('gives exactly one success when the same code is exchanged twice in parallel', async () => {
      const user = await registerUser(t.app);
      for (let round = 0; round < 3; round += 1) {
        const { code, verifier } = await codeFor(user);
        const answers = await Promise.all([1, 2, 3].map(() => exchangeCode(t.issuer, client, code, verifier)));
        const statuses = answers.map((a) => a.status).sort();
        expect(statuses).toEqual([200, 400, 400]);
        for (const answer of answers.filter((a) => a.status === 400)) {
          expect(await answer.json()).toMatchObject({ error: 'invalid_grant' });
        }
      }
    });
  });
});
