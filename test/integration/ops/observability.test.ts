import { Writable } from 'node:stream';
import { createLogger } from '../../../src/logger.js';
import { freePort, startTestApp, type TestApp } from '../../helpers/app.js';
import { authorizationUrl, registerClient, registerUser, RP_CALLBACK, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages } from '../../helpers/http-client.js';
import { metricValue } from '../../helpers/metrics.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A logger at debug level whose JSON lines the test reads. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('debug', stream), lines };
}

describe('request ids, request logs and metrics', () => {
  let t: TestApp;
  const log = capturedLogger();
  beforeAll(async () => {
    t = await startTestApp({ logger: log.logger });
  });
  afterAll(async () => {
    await t.close();
  });

  it('gives every request an id, returns it, puts it on every log line, and ignores one a stranger sends', async () => {
    const res = await fetch(`${t.issuer}/help`, { headers: { 'x-request-id': 'forged-by-the-client' } });
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(UUID);
    const client = await registerClient(t.app);
    const user = await registerUser(t.app);
    const browser = new HttpClient();
    const page = await loginThroughPages(browser, authorizationUrl(t.issuer, client.client_id).url, RP_CALLBACK, {
      email: user.email,
      password: TEST_PASSWORD,
    });
    expect(page.location).toContain(RP_CALLBACK);
    const completed = log.lines.filter((line) => line.msg === 'request completed');
    const help = completed.find((line) => line.reqId === id);
    expect(help).toMatchObject({ req: { method: 'GET', path: '/help' }, res: { statusCode: 200 } });
    // A line logged deep inside oidc-provider (its interaction.ended event, at debug) carries the
    // id of the request it happened in: the password form's, which resumes the login itself.
    const ended = log.lines.find((line) => line.event === 'interaction.ended');
    expect(ended?.reqId).toMatch(UUID);
    const resume = completed.find((line) => line.reqId === ended!.reqId);
    expect((resume?.req as { path: string } | undefined)?.path).toMatch(/^\/interaction\/[^/]+\/password$/);
    expect(JSON.stringify(log.lines)).not.toContain(TEST_PASSWORD);
  });

  it('serves Prometheus metrics: latency by route, outcomes, oidc events, outbox, stores, process', async () => {
    const res = await fetch(`${t.issuer}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/monban_http_request_duration_seconds_bucket\{[^}]*route="\/interaction\/:uid\/password"/);
    expect(text).toMatch(/monban_http_request_duration_seconds_count\{[^}]*route="\/auth"/);
    expect(text).toMatch(/monban_security_events_total\{type="login\.succeeded"\} [1-9]/);
    expect(text).toMatch(/monban_oidc_events_total\{event="interaction\.ended"\} [1-9]/);
    expect(text).toMatch(/monban_outbox_pending \d+/);
    expect(text).toMatch(/monban_outbox_failed \d+/);
    expect(text).toMatch(/monban_redis_up 1/);
    expect(text).toMatch(/monban_db_pool_connections\{state="total"\} [1-9]/);
    expect(text).toMatch(/process_cpu_user_seconds_total/);
    expect(text).toMatch(/nodejs_eventloop_lag_seconds/);
  });

  it('counts a refused password among the security events', async () => {
    const client = await registerClient(t.app);
    const user = await registerUser(t.app);
    const read = () => metricValue(t.issuer, 'monban_security_events_total{type="login.failed"}');
    const before = await read();
    await loginThroughPages(new HttpClient(), authorizationUrl(t.issuer, client.client_id).url, RP_CALLBACK, {
      email: user.email,
      password: 'Wrong-Password-2026!',
    });
    expect(await read()).toBe(before + 1);
  });
});

describe('request ids from a trusted proxy, metrics behind a token or on their own port', () => {
  it('takes x-request-id from a trusted proxy', async () => {
    const t = await startTestApp({ overrides: { trustProxy: true } });
    try {
      const res = await fetch(`${t.issuer}/help`, { headers: { 'x-request-id': 'proxy-abc-123' } });
      expect(res.headers.get('x-request-id')).toBe('proxy-abc-123');
      const odd = await fetch(`${t.issuer}/help`, { headers: { 'x-request-id': '<script>' } });
      expect(odd.headers.get('x-request-id')).toMatch(UUID);
    } finally {
      await t.close();
    }
  });

  it('asks for the bearer token, or serves metrics only on the separate port', async () => {
    const metricsPort = await freePort();
    const t = await startTestApp({
      overrides: { metrics: { bearerToken: 'scrape-token-0123456789', port: metricsPort } },
    });
    try {
      expect((await fetch(`${t.issuer}/metrics`)).status).toBe(404);
      const url = `http://127.0.0.1:${metricsPort}/metrics`;
      const refused = await fetch(url);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await fetch(url, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
      const ok = await fetch(url, { headers: { authorization: 'Bearer scrape-token-0123456789' } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('monban_http_request_duration_seconds');
    } finally {
      await t.close();
    }
  });
});
