import { startTestApp, type TestApp } from '../../helpers/app.js';
import { registerClient } from '../../helpers/fixtures.js';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const form = { 'content-type': 'application/x-www-form-urlencoded' };

describe('client_credentials and introspection (OP1)', () => {
  let t: TestApp;
  beforeAll(async () => { t = await startTestApp(); });
  afterAll(async () => { await t?.close(); });

  async function serviceToken(id: string, secret: string): Promise<string> {
    const res = await fetch(`${t.issuer}/token`, {
      method: 'POST',
      headers: { ...form, authorization: basic(id, secret) },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    expect(res.status).toBe(200);
    return (await res.json() as { access_token: string }).access_token;
  }

  async function introspect(id: string, secret: string, token: string) {
    const res = await fetch(`${t.issuer}/token/introspection`, {
      method: 'POST',
      headers: { ...form, authorization: basic(id, secret) },
      body: new URLSearchParams({ token }),
    });
    expect(res.status).toBe(200);
    return res.json() as Promise<Record<string, unknown>>;
  }

  it('gives a service client a token it can introspect', async () => {
    const service = await registerClient(t.app, { redirectUris: [], grants: ['client_credentials'] });
    const token = await serviceToken(service.client_id, service.client_secret!);
    const info = await introspect(service.client_id, service.client_secret!, token);
    expect(info).toMatchObject({ active: true, client_id: service.client_id, token_type: 'Bearer' });
  });

  it('does not tell another client anything about a token that is not its own', async () => {
    const owner = await registerClient(t.app, { redirectUris: [], grants: ['client_credentials'] });
    const stranger = await registerClient(t.app, { redirectUris: [], grants: ['client_credentials'] });
    const token = await serviceToken(owner.client_id, owner.client_secret!);
    expect(await introspect(stranger.client_id, stranger.client_secret!, token)).toEqual({ active: false });
  });

  it('refuses a wrong client secret and a client without the grant', async () => {
    const service = await registerClient(t.app, { redirectUris: [], grants: ['client_credentials'] });
    const wrong = await fetch(`${t.issuer}/token`, {
      method: 'POST',
      headers: { ...form, authorization: basic(service.client_id, 'not-the-secret') },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });

    const webApp = await registerClient(t.app);
    const refused = await fetch(`${t.issuer}/token`, {
      method: 'POST',
      headers: { ...form, authorization: basic(webApp.client_id, webApp.client_secret!) },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining('not allowed') });
  });
});
