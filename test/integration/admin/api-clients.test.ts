import { randomBytes } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { AdminApiClient, adminToken, registerAdminClient, ADMIN_SCOPES_ALL } from '../../helpers/admin-api.js';
import { authorizationUrl, registerClient, requestServiceToken, RP_CALLBACK } from '../../helpers/fixtures.js';
import { eventually } from '../../helpers/signup-pages.js';

interface Client {
  client_id: string;
  client_name: string;
  client_secret?: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  token_endpoint_auth_method: string;
  admin: boolean;
}
interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  errors?: { field: string; message: string }[];
}
interface Page<T> {
  items: T[];
  next: string | null;
}

const serviceClientBody = (name: string) => ({ client_name: name, grant_types: ['client_credentials'] });

describe('admin API: tokens and clients', () => {
  let t: TestApp;
  let second: TestApp;
  let api: AdminApiClient;
  let admin: { client_id: string; client_secret: string };
  let document: Record<string, unknown>;

  beforeAll(async () => {
    t = await startTestApp({ mode: 'server' });
    // A second server on the same database: changes made through the API reach it over the change feed.
    second = await startTestApp({
      mode: 'server',
      overrides: { databaseUrl: t.app.config.databaseUrl, redisKeyPrefix: t.app.config.redisKeyPrefix },
    });
    admin = await registerAdminClient(t.app);
    api = new AdminApiClient(t.issuer);
    document = await api.loadDocument();
    await api.authenticate(admin);
  });
  afterAll(async () => {
    await second?.app.stop();
    await t?.close();
  });

  /**
   * The answer `status` gives on both servers once a change is made: at once on the one that
   * made it (it drops its own cached copy before answering), within a second on the other (the
   * change feed's NOTIFY, issue 16).
   */
  async function everyServerAnswers(status: (server: TestApp) => Promise<number>, expected: number) {
    expect(await status(t)).toBe(expected);
    const seen = await eventually(
      async () => {
        const got = await status(second);
        return got === expected ? got : undefined;
      },
      1000,
      `HTTP ${expected} on the second server`,
    ).catch(() => status(second));
    expect(seen).toBe(expected);
  }

  describe('tokens', () => {
    it('gives an admin client a 5-minute JWT for <issuer>/admin with the scopes it asked for', async () => {
      const res = await adminToken(t.issuer, admin, ['admin:clients.read', 'openid', 'admin:unknown']);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { access_token: string; expires_in: number; scope: string };
      expect(body.expires_in).toBe(300);
      expect(body.scope).toBe('admin:clients.read');
      expect(decodeProtectedHeader(body.access_token)).toMatchObject({ typ: 'at+jwt', alg: 'RS256' });
      const claims = decodeJwt(body.access_token);
      expect(claims).toMatchObject({
        iss: t.issuer,
        aud: `${t.issuer}/admin`,
        client_id: admin.client_id,
        sub: admin.client_id,
        scope: 'admin:clients.read',
      });
      expect(Number(claims.exp) - Number(claims.iat)).toBe(300);
    });

    it('refuses the admin resource to a client not marked admin, and a token without it at the API', async () => {
      const service = await registerClient(t.app, { redirectUris: [], grants: ['client_credentials'] });
      const refused = await adminToken(t.issuer, service);
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ error: 'invalid_target' });

      // Without the resource, even an admin client gets an ordinary opaque token: not for the admin API.
      const plain = await adminToken(t.issuer, admin, ADMIN_SCOPES_ALL, null);
      expect(plain.status).toBe(200);
      const { access_token } = (await plain.json()) as { access_token: string };
      expect(access_token).not.toMatch(/^eyJ/);
      const res = await api.call<Problem>('GET', '/clients', { token: access_token });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="monban-admin", error="invalid_token"');
      expect(res.body.code).toBe('UNAUTHORIZED');
    });

    it('answers 401 with WWW-Authenticate: Bearer without a token, 403 insufficient_scope without the scope', async () => {
      const none = await api.call<Problem>('GET', '/clients', { token: null });
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="monban-admin"');
      expect(none.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(none.body).toMatchObject({ type: 'urn:monban:problem:UNAUTHORIZED', status: 401, code: 'UNAUTHORIZED' });

      const tampered = `${api.token.slice(0, -4)}AAAA`;
      expect((await api.call('GET', '/clients', { token: tampered })).status).toBe(401);

      const readOnly = await adminToken(t.issuer, admin, ['admin:clients.read']);
      const { access_token } = (await readOnly.json()) as { access_token: string };
      expect((await api.call('GET', '/clients', { token: access_token })).status).toBe(200);
      const write = await api.call<Problem>('POST', '/clients', {
        token: access_token,
        body: serviceClientBody('Nope'),
      });
      expect(write.status).toBe(403);
      expect(write.headers.get('www-authenticate')).toBe(
        'Bearer realm="monban-admin", error="insufficient_scope", scope="admin:clients.write"',
      );
      expect(write.body.code).toBe('INSUFFICIENT_SCOPE');
    });
  });

  describe('clients', () => {
    it('creates a client whose secret is shown once and works at the token endpoint; the write is audited', async () => {
      const res = await api.call<Client>('POST', '/clients', {
        body: {
          client_name: 'Shop',
          redirect_uris: [RP_CALLBACK],
          post_logout_redirect_uris: ['http://localhost:8976/'],
        },
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        client_name: 'Shop',
        redirect_uris: [RP_CALLBACK],
        post_logout_redirect_uris: ['http://localhost:8976/'],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'client_secret_basic',
        admin: false,
      });
      expect(res.body.client_secret).toMatch(/^[\w-]{43}$/);
      expect(res.headers.get('location')).toBe(`/admin/api/v1/clients/${res.body.client_id}`);
      // The relying party can start a login at once on this server, and within a second on the
      // other: the authorization request is answered with the login's email step (200).
      await everyServerAnswers(
        async (server) =>
          (await fetch(authorizationUrl(server.issuer, res.body.client_id).url, { redirect: 'manual' })).status,
        200,
      );
      const fetched = await api.call<Client>('GET', `/clients/${res.body.client_id}`);
      expect(fetched.status).toBe(200);
      expect(fetched.body.client_secret).toBeUndefined();

      const audit = await t.app.db
        .selectFrom('audit_events')
        .select(['type', 'actor', 'client_id'])
        .where('client_id', '=', res.body.client_id)
        .execute();
      expect(audit).toEqual([{ type: 'admin.client.created', actor: admin.client_id, client_id: res.body.client_id }]);
    });

    it('lists clients with a keyset cursor in the body and in Link: rel=next', async () => {
      for (let i = 0; i < 3; i++) await api.call('POST', '/clients', { body: serviceClientBody(`Batch ${i}`) });
      const seen: string[] = [];
      let path = '/clients?limit=2';
      for (let pages = 0; pages < 50; pages++) {
        const res = await api.call<Page<Client>>('GET', path);
        expect(res.status).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...res.body.items.map((c) => c.client_id));
        if (res.body.next === null) {
          expect(res.headers.get('link')).toBeNull();
          break;
        }
        expect(res.headers.get('link')).toBe(`</admin/api/v1/clients?limit=2&after=${res.body.next}>; rel="next"`);
        path = `/clients?limit=2&after=${encodeURIComponent(res.body.next)}`;
      }
      const all = await t.app.db.selectFrom('oidc_clients').select('client_id').orderBy('client_id').execute();
      expect(seen).toEqual(all.map((r) => r.client_id));
      expect(seen.length).toBeGreaterThanOrEqual(5);
    });

    it('updates a client with the same checks as at creation; every server sees the change at once', async () => {
      const created = (
        await api.call<Client>('POST', '/clients', {
          body: { client_name: 'Blog', redirect_uris: ['https://blog.example.com/cb'] },
        })
      ).body;
      const newUri = 'http://localhost:8976/new-callback';
      const updated = await api.call<Client>('PATCH', `/clients/${created.client_id}`, {
        body: { client_name: 'Blog 2', redirect_uris: [newUri] },
      });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ client_name: 'Blog 2', redirect_uris: [newUri] });
      // The second server had the client cached; the change feed made it drop it (200: the email step).
      await everyServerAnswers(
        async (server) =>
          (
            await fetch(authorizationUrl(server.issuer, created.client_id, { redirect_uri: newUri }).url, {
              redirect: 'manual',
            })
          ).status,
        200,
      );

      const refused = await api.call<Problem>('PATCH', `/clients/${created.client_id}`, {
        body: { redirect_uris: ['http://evil.example.com/cb'] },
      });
      expect(refused.status).toBe(400);
      expect(refused.body.code).toBe('CLIENT_METADATA_INVALID');
      expect(refused.body.detail).toMatch(/https/);
      const adminWithRedirects = await api.call<Problem>('PATCH', `/clients/${created.client_id}`, {
        body: { admin: true },
      });
      expect(adminWithRedirects.status).toBe(400);
      expect(adminWithRedirects.body.detail).toMatch(/admin client/);
    });

    it('rotates a secret: the old one stops working on every server, the new one works', async () => {
      const created = (await api.call<Client>('POST', '/clients', { body: serviceClientBody('Nightly') })).body;
      // Both servers cache the client with its secret.
      for (const instance of [t, second])
        expect((await requestServiceToken(instance.issuer, created)).status).toBe(200);
      const rotated = await api.call<Client>('POST', `/clients/${created.client_id}/secret`);
      expect(rotated.status).toBe(200);
      expect(rotated.body.client_secret).toMatch(/^[\w-]{43}$/);
      expect(rotated.body.client_secret).not.toBe(created.client_secret);
      await everyServerAnswers(async (server) => (await requestServiceToken(server.issuer, created)).status, 401);
      await everyServerAnswers(async (server) => (await requestServiceToken(server.issuer, rotated.body)).status, 200);
      const publicClient = (
        await api.call<Client>('POST', '/clients', {
          body: { client_name: 'SPA', redirect_uris: [RP_CALLBACK], token_endpoint_auth_method: 'none' },
        })
      ).body;
      expect(publicClient.client_secret).toBeUndefined();
      const noSecret = await api.call<Problem>('POST', `/clients/${publicClient.client_id}/secret`);
      expect(noSecret.status).toBe(400);
    });

    it('deletes a client: gone from the API and refused at the token endpoint of every server', async () => {
      const created = (await api.call<Client>('POST', '/clients', { body: serviceClientBody('Temp') })).body;
      expect((await requestServiceToken(second.issuer, created)).status).toBe(200);
      const deleted = await api.call('DELETE', `/clients/${created.client_id}`);
      expect(deleted.status).toBe(204);
      expect((await api.call<Problem>('GET', `/clients/${created.client_id}`)).body.code).toBe('NOT_FOUND');
      expect((await api.call('DELETE', `/clients/${created.client_id}`)).status).toBe(404);
      await everyServerAnswers(async (server) => (await requestServiceToken(server.issuer, created)).status, 401);
    });

    it('a retried create with the same Idempotency-Key makes one client; the key with another body is refused', async () => {
      const key = randomBytes(8).toString('hex');
      const body = serviceClientBody(`Idem ${key}`);
      const [first, retry] = await Promise.all([
        api.call<Client | Problem>('POST', '/clients', { body, headers: { 'idempotency-key': key } }),
        api.call<Client | Problem>('POST', '/clients', { body, headers: { 'idempotency-key': key } }),
      ]);
      // Two at once: one runs, the other is told it still runs (409) or, if it came second, gets the same answer.
      const statuses = [first.status, retry.status].sort();
      expect([
        [201, 201],
        [201, 409],
      ]).toContainEqual(statuses);
      const made = [first, retry].find((r) => r.status === 201)!.body as Client;
      const again = await api.call<Client>('POST', '/clients', { body, headers: { 'idempotency-key': key } });
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotency-replayed')).toBe('true');
      expect(again.body).toEqual(made);
      const named = await t.app.db
        .selectFrom('oidc_clients')
        .select('client_id')
        .where('client_name', '=', body.client_name)
        .execute();
      expect(named).toHaveLength(1);

      const other = await api.call<Problem>('POST', '/clients', {
        body: serviceClientBody('Something else'),
        headers: { 'idempotency-key': key },
      });
      expect(other.status).toBe(422);
      expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    });

    it('refuses bad input with problem details naming each field; unknown fields, big and non-JSON bodies', async () => {
      const missing = await api.call<Problem>('POST', '/clients', { body: { redirect_uris: 'nope', colour: 'red' } });
      expect(missing.status).toBe(400);
      expect(missing.body.code).toBe('INVALID_INPUT');
      const fields = missing.body.errors!.map((e) => e.field).sort();
      expect(fields).toEqual(expect.arrayContaining(['(body)', 'client_name', 'redirect_uris']));
      expect(missing.body.errors!.find((e) => e.field === '(body)')!.message).toMatch(/colour/);

      const badGrant = await api.call<Problem>('POST', '/clients', {
        body: { client_name: 'X', grant_types: ['implicit'] },
      });
      expect(badGrant.status).toBe(400);
      expect(badGrant.body.errors![0]!.field).toBe('grant_types.0');

      const huge = await api.call<Problem>('POST', '/clients', {
        rawBody: JSON.stringify({ client_name: 'x'.repeat(1024 * 1024) }),
        headers: { 'content-type': 'application/json' },
      });
      expect(huge.status).toBe(413);
      expect(huge.body.code).toBe('BODY_TOO_LARGE');

      const form = await api.call<Problem>('POST', '/clients', {
        rawBody: 'client_name=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(form.status).toBe(415);

      const broken = await api.call<Problem>('POST', '/clients', {
        rawBody: '{"client_name":',
        headers: { 'content-type': 'application/json' },
      });
      expect(broken.status).toBe(400);
      expect(broken.body.code).toBe('INVALID_INPUT');

      const limit = await api.call<Problem>('GET', '/clients?limit=201');
      expect(limit.status).toBe(400);
      expect(limit.body.errors![0]!.field).toBe('limit');

      const unknownPath = await api.call<Problem>('GET', '/nothing-here');
      expect(unknownPath.status).toBe(404);
      expect(unknownPath.body.code).toBe('NOT_FOUND');
    });
  });

  describe('the OpenAPI document', () => {
    it('is readable without a token and valid OpenAPI 3.1', async () => {
      const res = await fetch(`${t.issuer}/admin/api/v1/openapi.json`);
      expect(res.status).toBe(200);
      const result = await new Validator().validate(document);
      expect(result).toEqual({ valid: true });
      expect(document.openapi).toBe('3.1.0');
    });

    it('documents every answer the tests got (checked on each call), and each success of the clients was seen', () => {
      const clientSuccesses = api.documentedSuccesses().filter((s) => s.includes('/clients'));
      expect(clientSuccesses.length).toBe(6);
      for (const success of clientSuccesses) expect(api.seen).toContain(success);
    });
  });
});
