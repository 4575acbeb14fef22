/**
 * Discovery and the JWKS are the same for every request: every URL in them comes from ISSUER,
 * whatever Host, X-Forwarded-Host, -Proto or absolute request target the request names, so a
 * shared cache in front (which they may now use: Cache-Control) cannot be poisoned.
 */
import { request as httpRequest } from 'node:http';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { METADATA_MAX_AGE_SECONDS } from '../../../src/oidc/metadata-cache.js';

const EVIL = 'evil.example';

/** One GET through node:http, which (unlike fetch) lets a test name any Host or request target. */
function get(
  issuer: string,
  target: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { hostname, port } = new URL(issuer);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path: target, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every string in the metadata that looks like a URL. */
function urlsIn(meta: Record<string, unknown>): string[] {
  return Object.values(meta).filter((v): v is string => typeof v === 'string' && /^[a-z]+:\/\//i.test(v));
}

const FORGERIES: [string, string, Record<string, string>][] = [
  ['Host', '/.well-known/openid-configuration', { host: EVIL }],
  [
    'X-Forwarded-Host and -Proto',
    '/.well-known/openid-configuration',
    { 'x-forwarded-host': EVIL, 'x-forwarded-proto': 'https' },
  ],
  [
    'every forwarding header',
    '/.well-known/openid-configuration',
    {
      host: EVIL,
      'x-forwarded-host': `${EVIL}:8443`,
      'x-forwarded-proto': 'https',
      forwarded: `host=${EVIL};proto=https`,
    },
  ],
  ['an absolute request target', `http://${EVIL}/.well-known/openid-configuration`, {}],
];

describe.each([false, true])('discovery names only the issuer (trustProxy %s)', (trustProxy) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ overrides: { trustProxy } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each(FORGERIES)('whatever the request says with %s', async (_name, target, headers) => {
    const honest = await get(t.issuer, '/.well-known/openid-configuration');
    const forged = await get(t.issuer, target, headers);
    expect(forged.status).toBe(200);
    const meta = JSON.parse(forged.body) as Record<string, unknown>;
    expect(urlsIn(meta).length).toBeGreaterThan(5);
    for (const url of urlsIn(meta)) expect(url.startsWith(`${t.issuer}/`) || url === t.issuer).toBe(true);
    expect(forged.body).not.toContain(EVIL);
    expect(forged.body).toBe(honest.body);
  });

  it('sends Cache-Control on discovery and the JWKS, and not on user-specific answers', async () => {
    for (const path of ['/.well-known/openid-configuration', '/jwks']) {
      const res = await get(t.issuer, path, { host: EVIL });
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe(`public, max-age=${METADATA_MAX_AGE_SECONDS}`);
    }
    const userinfo = await get(t.issuer, '/me');
    expect(userinfo.headers['cache-control']).not.toMatch(/public/);
  });

  it('builds redirects on the issuer too', async () => {
    const res = await get(t.issuer, '/account', { host: EVIL, 'x-forwarded-host': EVIL });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.location as string, t.issuer);
    expect(location.origin).toBe(t.issuer);
  });
});
