import { startTestApp, type TestApp } from '../../helpers/app.js';
import { postAsClient, registerClient, requestServiceToken } from '../../helpers/fixtures.js';

describe('client_credentials and introspection (OP1)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  const serviceClient = () => registerClient(t.app, { redirectUris: [], grants: ['client_credentials'] });

  async function serviceToken(client: { client_id: string; client_secret?: string }): Promise<string> {
    const res = await requestServiceToken(t.issuer, client);
    expect(res.status).toBe(200);
    return ((await res.json()) as { access_token: string }).access_token;
  }

  async function introspect(client: { client_id: string; client_secret?: string }, token: string) {
    const res = await postAsClient(`${t.issuer}/token/introspection`, client, { token });
    expect(res.status).toBe(200);
    return res.json() as Promise<Record<string, unknown>>;
  }

  it('gives a service client a token it can introspect', async () => {
    const service = await serviceClient();
    const info = await introspect(service, await serviceToken(service));
    expect(info).toMatchObject({ active: true, client_id: service.client_id, token_type: 'Bearer' });
  });

  it('does not tell another client anything about a token that is not its own', async () => {
    const [owner, stranger] = [await serviceClient(), await serviceClient()];
    expect(await introspect(stranger, await serviceToken(owner))).toEqual({ active: false });
  });

  it('refuses a wrong client secret and a client without the grant', async () => {
    const service = await serviceClient();
    const wrong = await requestServiceToken(t.issuer, {
      client_id: service.client_id,
      client_secret: 'not-the-secret',
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });

    const refused = await requestServiceToken(t.issuer, await registerClient(t.app));
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({
      error: 'invalid_request',
      error_description: expect.stringContaining('not allowed'),
    });
  });
});
