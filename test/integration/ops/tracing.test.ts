/**
 * Issue 18: OpenTelemetry tracing, off by default. Monban runs as an operator runs it (its own
 * process) and sends OTLP/HTTP (JSON) to a collector this test plays on 127.0.0.1. A preloaded
 * hook (test/helpers/module-log.mjs) reports every OpenTelemetry module the process resolves.
 */
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../helpers/app.js';
import { ChildServer, sharedDeployment, type SharedDeployment } from '../../helpers/child-server.js';
import { authorizationUrl, exchangeCode, RP_CALLBACK, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages } from '../../helpers/http-client.js';

const MODULE_LOG = fileURLToPath(new URL('../../helpers/module-log.mjs', import.meta.url));
const SERVER = 2; // OTLP SpanKind
const CLIENT = 3;

interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: AnyValue }[];
}
interface Received {
  service: string | undefined;
  span: OtlpSpan;
}

const text = (value: AnyValue): string =>
  value.arrayValue ? (value.arrayValue.values ?? []).map(text).join(' ') : String(Object.values(value)[0] ?? '');
const attribute = (span: OtlpSpan, key: string) => {
  const found = span.attributes?.find((a) => a.key === key);
  return found ? text(found.value) : undefined;
};

/** An OTLP/HTTP collector: keeps every span POSTed to /v1/traces (JSON), and every raw body. */
class FakeCollector {
  readonly spans: Received[] = [];
  readonly bodies: string[] = [];
  private server?: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        this.bodies.push(body);
        const request = JSON.parse(body) as {
          resourceSpans?: {
            resource?: { attributes?: { key: string; value: AnyValue }[] };
            scopeSpans?: { spans?: OtlpSpan[] }[];
          }[];
        };
        for (const resourceSpans of request.resourceSpans ?? []) {
          const nameAttr = resourceSpans.resource?.attributes?.find((a) => a.key === 'service.name');
          for (const scope of resourceSpans.scopeSpans ?? [])
            for (const span of scope.spans ?? [])
              this.spans.push({ service: nameAttr ? text(nameAttr.value) : undefined, span });
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections(); // the exporter keeps its connection alive
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Discovery, then a whole login (password form, code, token request with the client secret). */
async function loginAtRp(issuer: string, deployment: SharedDeployment) {
  expect((await fetch(`${issuer}/.well-known/openid-configuration`)).status).toBe(200);
  const browser = new HttpClient();
  const auth = authorizationUrl(issuer, deployment.client.client_id);
  const page = await loginThroughPages(browser, auth.url, RP_CALLBACK, {
    email: deployment.email,
    password: TEST_PASSWORD,
  });
  const code = new URL(page.location ?? RP_CALLBACK).searchParams.get('code');
  expect(code).toBeTruthy();
  const res = await exchangeCode(issuer, deployment.client, code!, auth.verifier);
  expect(res.status).toBe(200);
  const tokens = (await res.json()) as { access_token: string; id_token: string };
  const cookies = (await browser.jar.getCookies(issuer)).map((cookie) => cookie.value);
  return { code: code!, tokens, cookies };
}

/** The OpenTelemetry modules module-log.mjs saw resolved. */
const loadedModules = (output: string) => [...output.matchAll(/^module loaded: (\S+)/gm)].map((m) => m[1]!);

async function stopAndWait(server: ChildServer): Promise<void> {
  server.signal('SIGTERM'); // a clean stop sends the spans still queued
  await server.exited;
}

describe('OpenTelemetry tracing', () => {
  let collector: FakeCollector;
  let deployment: SharedDeployment;
  let issuer: string;
  let port: number;

  beforeAll(async () => {
    collector = await new FakeCollector().start();
    port = await freePort();
    issuer = `http://localhost:${port}`;
    deployment = await sharedDeployment(issuer);
  });
  afterAll(async () => {
    await collector?.stop();
    await deployment?.close();
  });

  it('sends server, route and PostgreSQL spans to the collector, with no secret in them, and stamps log lines with the trace id', async () => {
    const server = await ChildServer.start(
      port,
      {
        ...deployment.env,
        MONBAN_TRACING__ENABLED: 'true',
        MONBAN_TRACING__ENDPOINT: collector.url,
        MONBAN_TRACING__SERVICE_NAME: 'monban-test',
      },
      ['--import', MODULE_LOG],
    );
    let secrets: string[];
    try {
      const login = await loginAtRp(issuer, deployment);
      secrets = [
        deployment.client.client_secret!,
        TEST_PASSWORD,
        deployment.env.MONBAN_SECRET!,
        login.code,
        login.tokens.access_token,
        login.tokens.id_token,
        ...login.cookies.filter((value) => value.length >= 16),
      ];
    } finally {
      await stopAndWait(server);
    }

    expect(loadedModules(server.output).some((url) => url.includes('/@opentelemetry/sdk-trace/'))).toBe(true);
    const spans = collector.spans.map((r) => r.span);
    expect(new Set(collector.spans.map((r) => r.service))).toEqual(new Set(['monban-test']));

    // A server span per request, named by its route.
    const serverSpans = spans.filter((s) => s.kind === SERVER);
    const token = serverSpans.find((s) => attribute(s, 'url.path') === '/token');
    expect(token).toBeDefined();
    expect(token!.name).toBe('POST /token');
    expect(attribute(token!, 'http.route')).toBe('/token');
    const password = serverSpans.find((s) => /^POST \/interaction\/:uid\/.*password/.test(s.name));
    expect(password).toBeDefined();
    expect(attribute(password!, 'http.route')).toMatch(/^\/interaction\/:uid\//);
    expect(serverSpans.find((s) => attribute(s, 'url.path') === '/.well-known/openid-configuration')).toBeDefined();
    // Probes are not traced.
    expect(serverSpans.filter((s) => attribute(s, 'url.path') === '/readyz')).toEqual([]);

    // PostgreSQL statements under the password step's request: the statement, never the values.
    const pg = spans.filter(
      (s) => attribute(s, 'db.system.name') === 'postgresql' || attribute(s, 'db.system') === 'postgresql',
    );
    const underPassword = pg.filter((s) => s.traceId === password!.traceId && s.kind === CLIENT);
    expect(underPassword.length).toBeGreaterThan(0);
    const statements = underPassword.map((s) => attribute(s, 'db.query.text') ?? attribute(s, 'db.statement') ?? '');
    expect(statements.some((statement) => /\bselect\b/i.test(statement))).toBe(true);
    expect(statements.some((statement) => /\$1/.test(statement))).toBe(true);
    // Every span has a parent in the same trace except the server span that started it.
    const ids = new Set(spans.map((s) => s.spanId));
    for (const span of underPassword) expect(ids.has(span.parentSpanId ?? '')).toBe(true);

    // Nothing secret anywhere in what was sent: not in an attribute, not in a name.
    const everything = collector.bodies.join('\n');
    expect(secrets.filter((secret) => everything.includes(secret))).toEqual([]);

    // The request log line of a traced request carries its trace id.
    const lines = server.output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg?: string; trace_id?: string; req?: { path?: string } });
    const tokenLine = lines.find((line) => line.msg === 'request completed' && line.req?.path === '/token');
    expect(tokenLine?.trace_id).toBe(token!.traceId);
  }, 300_000);

  it('loads no OpenTelemetry module and sends nothing when tracing is off', async () => {
    const before = collector.bodies.length;
    // The standard variables alone do not turn it on.
    const server = await ChildServer.start(
      port,
      { ...deployment.env, OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_SERVICE_NAME: 'monban-test' },
      ['--import', MODULE_LOG],
    );
    try {
      await loginAtRp(issuer, deployment);
    } finally {
      await stopAndWait(server);
    }
    // prom-client has always loaded @opentelemetry/api (the no-op API, for exemplars); nothing else.
    expect(loadedModules(server.output).filter((url) => !url.includes('/@opentelemetry/api/'))).toEqual([]);
    expect(server.output).not.toContain('trace_id');
    expect(collector.bodies.length).toBe(before);
  }, 300_000);
});
