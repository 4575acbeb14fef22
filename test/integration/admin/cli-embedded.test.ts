import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ENGLISH } from '../../helpers/account.js';
import { ChildServer } from '../../helpers/child-server.js';
import { requestServiceToken, RP_CALLBACK, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages } from '../../helpers/http-client.js';
import { RelyingParty } from '../../helpers/rp.js';
import { runAdminCli } from '../../helpers/admin-cli.js';
import { freePort } from '../../helpers/ports.js';

/** `npm run admin -- ...` in a second terminal beside `npm start`: same data folder, no DATABASE_URL. */
const cli = (dataDir: string, args: string[]) =>
  runAdminCli(args, { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', DATA_DIR: dataDir });

describe('the admin CLI beside a running embedded server (npm start on PGlite)', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'monban-admin14-'));
  let issuer: string;
  let server: ChildServer;

  beforeAll(async () => {
    // A port the OS hands out, not one picked at random: a random one in the ephemeral range
    // was once taken by another test's outgoing connection (EADDRINUSE).
    const port = await freePort();
    issuer = `http://localhost:${port}`;
    server = await ChildServer.start(port, { DATA_DIR: dataDir, ISSUER: issuer });
  }, 300_000);
  afterAll(async () => {
    server?.signal('SIGTERM');
    await server?.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('the first start writes the bootstrap admin client, readable by this user only, and says so', () => {
    const file = path.join(dataDir, 'admin-client.json');
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(saved).toMatchObject({ issuer, resource: `${issuer}/admin`, token_endpoint: `${issuer}/token` });
    expect(server.output).toContain(file);
  });

  it('registers a client and a user through the API while the server runs; an RP logs the user in', async () => {
    const email = `beside-${randomBytes(4).toString('hex')}@example.com`;
    const [web, machine, user] = await Promise.all([
      cli(dataDir, ['client', 'create', '--name', 'Shop', '--redirect-uri', RP_CALLBACK]),
      cli(dataDir, ['client', 'create', '--name', 'Batch', '--grant', 'client_credentials']),
      cli(dataDir, [
        'user',
        'create',
        '--email',
        email,
        '--password',
        TEST_PASSWORD,
        '--given-name',
        'Taro',
        '--family-name',
        'Sato',
        '--locale',
        'en',
      ]),
    ]);
    for (const result of [web, machine, user]) expect([result.code, result.stderr]).toEqual([0, '']);
    const machineClient = JSON.parse(machine.stdout) as { client_id: string; client_secret: string };
    expect((await requestServiceToken(issuer, machineClient)).status).toBe(200);
    const webClient = JSON.parse(web.stdout) as { client_id: string; client_secret: string };
    const created = JSON.parse(user.stdout) as { id: string };
    // An openid-client RP, configured from discovery, logs the new user in through the pages.
    const rp = await RelyingParty.discover(issuer, webClient.client_id, webClient.client_secret);
    const pending = await rp.authorizationRequest({ scope: 'openid email', redirect_uri: RP_CALLBACK });
    const last = await loginThroughPages(new HttpClient(ENGLISH), pending.url.href, RP_CALLBACK, {
      email,
      password: TEST_PASSWORD,
    });
    const tokens = await rp.redeem(new URL(last.location!), pending);
    expect(tokens.claims()).toMatchObject({ sub: created.id, email });
    // Still one server, still serving.
    expect((await fetch(`${issuer}/readyz`)).status).toBe(200);
  }, 300_000);

  it('names an unknown command', async () => {
    const result = await cli(dataDir, ['client', 'frobnicate']);
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/^error: unknown command "client frobnicate"/);
  }, 120_000);
});
