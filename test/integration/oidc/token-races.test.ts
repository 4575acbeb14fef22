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
import { HttpClient, loginThroughPages } from '../../helpers/http-client.js';
import { isActive, refresh, rpSignIn, userinfo } from '../../helpers/account.js';

/**
 * A code or a refresh token is good for one use (RFC 6749 sections 4.1.2 and 10.4, with rotation),
 * also when 50 requests bring it at the same moment: the token endpoint sends the consume and the
 * tokens it issues to Redis together, and only the one request whose consume won hands them out.
 */
describe('one use of a code or refresh token under 50 parallel requests', () => {
  let t: TestApp;
  let client: Awaited<ReturnType<typeof registerClient>>;
  let email: string;
  beforeAll(async () => {
    t = await startTestApp();
    client = await registerClient(t.app);
    email = (await registerUser(t.app, { locale: 'en' })).email;
  });
  afterAll(async () => {
    await t?.close();
  });

  const errors = (answers: { status: number; body: Record<string, unknown> }[]) =>
    answers.filter((a) => a.status !== 200).map((a) => `${a.status} ${String(a.body.error)}`);

  it('exchanges a code once', async () => {
    const auth = authorizationUrl(t.issuer, client.client_id);
    const last = await loginThroughPages(new HttpClient({ 'accept-language': 'en' }), auth.url, RP_CALLBACK, {
      email,
      password: TEST_PASSWORD,
    });
    const code = new URL(last.location!).searchParams.get('code')!;
    const answers = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const res = await exchangeCode(t.issuer, client, code, auth.verifier);
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      }),
    );
    const winners = answers.filter((a) => a.status === 200);
    expect(winners).toHaveLength(1);
    // A request that read the code after the winner consumed it took it for a stolen code and
    // revoked the grant (RFC 6749 section 4.1.2), so whether the winner's token still works
    // depends on timing; that only one request got tokens does not.
    expect(errors(answers)).toEqual(Array(49).fill('400 invalid_grant'));
  });

  const signIn = () =>
    rpSignIn(new HttpClient({ 'accept-language': 'en' }), t.issuer, client, email, TEST_PASSWORD, {
      scope: 'openid profile offline_access',
      prompt: 'consent',
    });

  it('rotates a refresh token once', async () => {
    const tokens = await signIn();
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => refresh(t.issuer, client, tokens.refresh_token!)),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(errors(answers)).toEqual(Array(49).fill('400 invalid_grant'));
  });

  it('gives a working pair at each rotation, and ends the grant when a used refresh token comes back', async () => {
    const tokens = await signIn();
    const first = await refresh(t.issuer, client, tokens.refresh_token!);
    const second = await refresh(t.issuer, client, first.body.refresh_token as string);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect((await userinfo(t.issuer, second.body.access_token as string)).status).toBe(200);

    // The used token again looks like a stolen one: oidc-provider revokes the whole grant.
    expect(await refresh(t.issuer, client, first.body.refresh_token as string)).toMatchObject({
      status: 400,
      body: { error: 'invalid_grant' },
    });
    expect((await refresh(t.issuer, client, second.body.refresh_token as string)).status).toBe(400);
    expect((await userinfo(t.issuer, second.body.access_token as string)).status).toBe(401);
  });

  it('ends every token of the grant when the app revokes one access token, and keeps the grant for its next sign-in', async () => {
    const browser = new HttpClient({ 'accept-language': 'en' });
    const tokens = await rpSignIn(browser, t.issuer, client, email, TEST_PASSWORD, {
      scope: 'openid profile offline_access',
      prompt: 'consent',
    });
    const rotated = await refresh(t.issuer, client, tokens.refresh_token!);
    const sibling = rotated.body.access_token as string;
    expect((await userinfo(t.issuer, sibling)).status).toBe(200);

    // RFC 7009: oidc-provider then ends the grant's other tokens, and keeps the grant.
    const revoked = await postAsClient(`${t.issuer}/token/revocation`, client, {
      token: tokens.access_token,
      token_type_hint: 'access_token',
    });
    expect(revoked.status).toBe(200);
    expect(await isActive(t.issuer, client, tokens.access_token)).toBe(false);
    expect(await isActive(t.issuer, client, sibling)).toBe(false);
    expect((await userinfo(t.issuer, sibling)).status).toBe(401);
    expect((await refresh(t.issuer, client, rotated.body.refresh_token as string)).status).toBe(400);

    // Tokens count as revoked up to the second of the revocation: the next sign-in comes after it.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const again = await rpSignIn(browser, t.issuer, client, email, TEST_PASSWORD, { scope: 'openid profile' });
    expect((await userinfo(t.issuer, again.access_token)).status).toBe(200);
    expect(await isActive(t.issuer, client, again.access_token)).toBe(true);
  });
});
