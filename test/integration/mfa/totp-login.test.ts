import { ACR } from '../../../src/oidc/acr.js';
import { ENGLISH, startAccountHarness, signedInUser, type AccountHarness } from '../../helpers/account.js';
import { authorizationUrl, exchangeCode, registerClient, RP_CALLBACK, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, alertText, loginThroughPages, submitForm } from '../../helpers/http-client.js';
import { enableTotp, totpCode } from '../../helpers/mfa.js';

describe('login with an authenticator app (L3)', () => {
  let h: AccountHarness;
  beforeAll(async () => { h = await startAccountHarness(); });
  afterAll(async () => { await h.close(); });

  it('asks for the code after the password and tells the RP amr and acr', async () => {
    const { user, browser } = await signedInUser(h);
    const { secret, recoveryCodes } = await enableTotp(browser, h.issuer);
    expect(recoveryCodes).toHaveLength(10);

    const client = await registerClient(h.app);
    const auth = authorizationUrl(h.issuer, client.client_id);
    const verifier = auth.verifier;
    const rpBrowser = new HttpClient(ENGLISH);
    const page = await loginThroughPages(rpBrowser, auth.url, RP_CALLBACK, { email: user.email, password: TEST_PASSWORD });
    expect(page.body).toContain('/mfa/totp');
    const wrong = await submitForm(rpBrowser, page, '/mfa/totp', { code: '000000' });
    expect(wrong.status).toBe(401);
    expect(alertText(wrong.body)).toMatch(/not right/);
    const ok = await submitForm(rpBrowser, wrong, '/mfa/totp', { code: totpCode(secret, 1) });
    expect(ok.status).toBe(303);
    const back = await rpBrowser.follow(ok.location!, RP_CALLBACK);
    let last = back;
    if (!last.location?.startsWith(RP_CALLBACK)) last = await submitForm(rpBrowser, back, '/confirm', {}).then((r) => rpBrowser.follow(r.location!, RP_CALLBACK));
    const code = new URL(last.location!).searchParams.get('code')!;
    const tokens = await (await exchangeCode(h.issuer, client, code, verifier)).json() as { id_token: string };
    const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1]!, 'base64url').toString());
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.acr).toBe(ACR.mfa);
  });
});
