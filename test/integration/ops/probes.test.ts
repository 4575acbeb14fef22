import { startTestApp, type TestApp } from '../../helpers/app.js';

const get = (t: TestApp, path: string) => fetch(`${t.issuer}${path}`);
const body = async (res: Response) => (await res.json()) as { status: string; checks?: Record<string, string> };

describe('probes: /livez asks nothing, /readyz asks PostgreSQL, Redis and the schema', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ proxies: true });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers both when everything is up; /healthz is /readyz', async () => {
    const live = await get(t, '/livez');
    expect([live.status, await body(live)]).toEqual([200, { status: 'alive' }]);
    for (const path of ['/readyz', '/healthz']) {
      const ready = await get(t, path);
      expect(ready.status).toBe(200);
      expect(ready.headers.get('cache-control')).toBe('no-store');
      expect(await body(ready)).toEqual({
        status: 'ready',
        checks: { database: 'ok', redis: 'ok', migrations: 'ok' },
      });
    }
  });

  it.each(['redis', 'postgres'] as const)(
    'is not ready while %s is down, stays alive, and is ready again when it is back',
    async (name) => {
      const proxy = t[name]!;
      await proxy.cut();
      try {
        const ready = await get(t, '/readyz');
        expect(ready.status).toBe(503);
        const answer = await body(ready);
        expect(answer.status).toBe('not ready');
        expect(answer.checks![name === 'postgres' ? 'database' : 'redis']).toBe('failed');
        expect((await get(t, '/livez')).status).toBe(200);
      } finally {
        await proxy.restore();
      }
      // ioredis and the pg pool reconnect by themselves.
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i += 1) {
        status = (await get(t, '/readyz')).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(status).toBe(200);
    },
  );
});

describe('draining', () => {
  it('answers /readyz 503 and closes keep-alive connections from the moment stop() begins', async () => {
    const t = await startTestApp();
    const stopped = t.app.stop({ delayMs: 1500, graceMs: 5000 });
    try {
      expect(t.app.draining).toBe(true);
      const ready = await get(t, '/readyz');
      expect(ready.status).toBe(503);
      expect((await body(ready)).checks).toMatchObject({ draining: 'yes' });
      expect(ready.headers.get('connection')).toBe('close');
      // Still serving while load balancers notice.
      const discovery = await get(t, '/.well-known/openid-configuration');
      expect(discovery.status).toBe(200);
      expect((await get(t, '/livez')).status).toBe(200);
    } finally {
      await stopped;
      await t.close().catch(() => undefined);
    }
    await expect(get(t, '/livez')).rejects.toThrow();
  });
});
