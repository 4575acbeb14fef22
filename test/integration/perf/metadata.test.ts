import { METADATA_MAX_AGE_SECONDS } from '../../../src/oidc/metadata-cache.js';
import { startTestApp, type TestApp } from '../../helpers/app.js';

/** Discovery and the JWKS come from memory with an ETag; oidc-provider's JSON endpoints skip the page machinery. */
describe('metadata from memory, pages apart from the API', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each(['/.well-known/openid-configuration', '/jwks'])(
    '%s: the same body each time, 304 for a known ETag',
    async (path) => {
      const first = await fetch(`${t.issuer}${path}`);
      const firstBody = await first.text();
      const second = await fetch(`${t.issuer}${path}`, { headers: { origin: 'https://rp.example.com' } });
      expect(await second.text()).toBe(firstBody);
      expect(second.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(second.headers.get('cache-control')).toBe(`public, max-age=${METADATA_MAX_AGE_SECONDS}`);
      expect(second.headers.get('access-control-allow-origin')).toBe('https://rp.example.com');
      const etag = second.headers.get('etag');
      expect(etag).toMatch(/^"[\w-]{43}"$/);
      expect(first.headers.get('etag')).toBe(etag);

      const revalidated = await fetch(`${t.issuer}${path}`, { headers: { 'if-none-match': etag! } });
      expect(revalidated.status).toBe(304);
      expect(await revalidated.text()).toBe('');
      const parsed = JSON.parse(firstBody) as { issuer?: string; keys?: unknown[] };
      expect(path === '/jwks' ? parsed.keys?.length : parsed.issuer).toBe(path === '/jwks' ? 2 : t.issuer);
    },
  );

  it('gives pages their security headers, and the JSON endpoints none of the page machinery', async () => {
    const page = await fetch(`${t.issuer}/help`);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const api = await fetch(`${t.issuer}/.well-known/openid-configuration?lang=en`);
    expect(api.headers.get('content-security-policy')).toBeNull();
    expect(api.headers.get('set-cookie')).toBeNull(); // no language cookie from an API call
  });
});
