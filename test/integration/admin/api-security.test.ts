import { existsSync } from 'node:fs';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { ENGLISH, rpSignIn } from '../../helpers/account.js';
import { adminToken, registerAdminClient } from '../../helpers/admin-api.js';
import { createClient } from '../../../src/admin/clients.js';
import { countAdminClients } from '../../../src/oidc/clients/repository.js';
import { registerUser, RP_CALLBACK, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient } from '../../helpers/http-client.js';

const API = '/admin/api/v1';

async function tokenOf(t: TestApp, client: { client_id: string; client_secret: string }): Promise<string> {
  const res = await adminToken(t.issuer, client);
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

function call(t: TestApp, token: string | undefined, method: string, path: string, body?: unknown, ip?: string) {
  return fetch(`${t.issuer}${API}${path}`, {
    method,
    headers: {
      ...(ip ? { 'x-forwarded-for': ip } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

describe('admin API: tokens end with their client, deletion revokes, throttles, methods', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      overrides: {
        adminApi: {
          perIp: { points: 10_000, durationSeconds: 60 },
          perClient: { points: 10_000, durationSeconds: 60 },
        },
      },
    });
  }, 120_000);
  afterAll(() => t?.close());

  it('on the memory:// data folder (tests) no bootstrap admin client is made and no file written', async () => {
    expect(t.app.config.dataDir).toBe('memory://');
    expect(await countAdminClients(t.app.db)).toBe(0);
    expect(existsSync('memory:/admin-client.json')).toBe(false);
  });

  it('an admin token stops working at once when its client loses the admin flag, or is deleted', async () => {
    const [demoted, deleted, operator] = await Promise.all([
      registerAdminClient(t.app),
      registerAdminClient(t.app),
      registerAdminClient(t.app),
    ]);
    const [demotedToken, deletedToken, operatorToken] = await Promise.all(
      [demoted, deleted, operator].map((c) => tokenOf(t, c)),
    );
    expect((await call(t, demotedToken, 'GET', '/clients')).status).toBe(200);
    expect((await call(t, deletedToken, 'GET', '/clients')).status).toBe(200);

    const patch = await call(t, operatorToken, 'PATCH', `/clients/${demoted.client_id}`, { admin: false });
    expect(patch.status).toBe(200);
    const refused = await call(t, demotedToken, 'GET', '/clients');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);

    expect((await call(t, operatorToken, 'DELETE', `/clients/${deleted.client_id}`)).status).toBe(204);
    expect((await call(t, deletedToken, 'GET', '/clients')).status).toBe(401);
    expect((await call(t, operatorToken, 'GET', '/clients')).status).toBe(200);
  });

  it('deleting a client ends the tokens the accounts gave it', async () => {
    const web = await createClient(t.app, { name: 'Shop', redirectUris: [RP_CALLBACK] });
    const user = await registerUser(t.app, { locale: 'en' });
    const tokens = await rpSignIn(new HttpClient(ENGLISH), t.issuer, web, user.email, TEST_PASSWORD);
    const userinfo = () =>
      fetch(`${t.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } }).then((r) => r.status);
    expect(await userinfo()).toBe(200);
    const indexed = await t.app.db
      .selectFrom('account_grants')
      .select('grant_id')
      .where('client_id', '=', web.client_id)
      .execute();
    expect(indexed).toHaveLength(1);
    const operator = await registerAdminClient(t.app);
    expect((await call(t, await tokenOf(t, operator), 'DELETE', `/clients/${web.client_id}`)).status).toBe(204);
    expect(await userinfo()).toBe(401);
    // The grant was revoked with the deletion (and then removed from storage by the clean-up).
    const deletion = await t.app.db
      .selectFrom('audit_events')
      .select('details')
      .where('type', '=', 'admin.client.deleted')
      .where('client_id', '=', web.client_id)
      .executeTakeFirstOrThrow();
    expect(deletion.details).toMatchObject({ grants_revoked: 1 });
    const left = await t.app.db
      .selectFrom('account_grants')
      .select('revoked_at')
      .where('client_id', '=', web.client_id)
      .execute();
    expect(left.every((g) => g.revoked_at !== null)).toBe(true);
  }, 120_000);

  it('a known path with another method is 405 with Allow; an unknown path 404', async () => {
    const token = await tokenOf(t, await registerAdminClient(t.app));
    const put = await call(t, token, 'PUT', '/clients');
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')?.split(', ').sort()).toEqual(['GET', 'HEAD', 'POST']);
    expect(put.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await put.json()).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED' });
    const post = await call(t, token, 'POST', '/clients/some-id');
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')?.split(', ').sort()).toEqual(['DELETE', 'GET', 'HEAD', 'PATCH']);
    expect((await call(t, token, 'GET', '/no-such-thing')).status).toBe(404);
  });
});

describe('admin API rate limits: counted atomically before the token is checked', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Behind a trusted proxy, so that each test is its own client address.
    t = await startTestApp({
      overrides: {
        trustProxy: true,
        adminApi: { perIp: { points: 20, durationSeconds: 600 }, perClient: { points: 5, durationSeconds: 600 } },
      },
    });
  }, 120_000);
  afterAll(() => t?.close());

  it('50 parallel requests from one admin client: 5 answered, 45 refused with 429', async () => {
    const token = await tokenOf(t, await registerAdminClient(t.app));
    const statuses = await Promise.all(
      Array.from({ length: 50 }, () =>
        call(t, token, 'GET', '/clients', undefined, '198.51.100.1').then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(45);
  });

  it('50 parallel requests with made-up tokens from one IP: 20 are checked (401), 30 refused before (429)', async () => {
    const statuses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        call(t, `made-up-${i}`, 'GET', '/clients', undefined, '198.51.100.2').then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 401)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30);
  });
});
