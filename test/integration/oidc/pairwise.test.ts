/**
 * Pairwise subject identifiers (OIDC Core 8.1) per client, with openid-client: a client registered
 * with subject_type pairwise knows each user by a `sub` of its own sector (its redirect URIs' host,
 * or its sector_identifier_uri's), the same in the ID token, at userinfo, in introspection and in
 * back-channel logout tokens, and the same after a restart (the salt is a kept derived key).
 * Public clients keep the account id. The sector_identifier_uri is read from a loopback server.
 */
import { createServer, type Server } from 'node:https';
import tls from 'node:tls';
import { startTestApp, freePort, type TestApp } from '../../helpers/app.js';
import { AdminApiClient, registerAdminClient } from '../../helpers/admin-api.js';
import { selfSignedCertificate } from '../../helpers/certificate.js';
import { createScratchDatabase } from '../../helpers/databases.js';
import { registerUser, RP_CALLBACK, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, hiddenInputs, loginThroughPages } from '../../helpers/http-client.js';
import { LogoutRp } from '../../helpers/logout-rp.js';
import { RelyingParty } from '../../helpers/rp.js';
import { cliEnv, runAdminCli } from '../../helpers/admin-cli.js';

/** A second RP host: 127.0.0.1 is a different host (sector) from localhost. */
const OTHER_CALLBACK = 'http://127.0.0.1:8977/cb';

let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let t: TestApp;
let api: AdminApiClient;
let admin: Awaited<ReturnType<typeof registerAdminClient>>;
beforeAll(async () => {
  scratch = await createScratchDatabase();
  t = await startTestApp({ overrides: { databaseUrl: scratch.url } });
  api = new AdminApiClient(t.issuer);
  await api.loadDocument();
  admin = await registerAdminClient(t.app);
  await api.authenticate(admin);
}, 60_000);
afterAll(async () => {
  await t?.close();
  await scratch?.drop();
});

interface Created {
  client_id: string;
  client_secret: string;
  subject_type: string;
  sector_identifier_uri?: string;
}

async function createClient(body: Record<string, unknown>) {
  return api.call<Created & { detail?: string; code?: string }>('POST', '/clients', {
    body: { client_name: 'Pairwise RP', redirect_uris: [RP_CALLBACK], ...body },
  });
}

async function created(body: Record<string, unknown>): Promise<Created> {
  const answer = await createClient(body);
  expect(answer.status).toBe(201);
  return answer.body;
}

/** A login at `client` through the pages in a new browser; the ID token's and userinfo's sub. */
async function signIn(issuer: string, client: Created, email: string, callback = RP_CALLBACK) {
  const rp = await RelyingParty.discover(issuer, client.client_id, client.client_secret);
  const pending = await rp.authorizationRequest({ scope: 'openid email', redirect_uri: callback });
  const last = await loginThroughPages(new HttpClient({ 'accept-language': 'en' }), pending.url.toString(), callback, {
    email,
    password: TEST_PASSWORD,
  });
  const tokens = await rp.redeem(new URL(last.location!), pending);
  const sub = tokens.claims()!.sub;
  const info = await rp.userinfo(tokens.access_token, sub);
  // openid-client already refuses a userinfo answer whose sub differs from the ID token's.
  expect(info.sub).toBe(sub);
  return { rp, tokens, sub };
}

const certificate = selfSignedCertificate();

/**
 * The app runs in this process: while the sector servers (self-signed, on loopback) are up, its
 * fetch trusts their certificate as well as the usual ones.
 */
function trustSectorServers(): () => void {
  const before = tls.getCACertificates('default');
  tls.setDefaultCACertificates([...before, certificate.cert]);
  return () => tls.setDefaultCACertificates(before);
}

/** Serves a sector_identifier_uri document (a JSON array of redirect URIs) over https on loopback. */
async function sectorServer(listed: string[]): Promise<{ uri: string; server: Server }> {
  const port = await freePort();
  const server = createServer(certificate, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(listed));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { uri: `https://127.0.0.1:${port}/sector.json`, server };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}

test('two pairwise clients of different hosts know the same user by different subs; a public client by the account id', async () => {
  const user = await registerUser(t.app, { locale: 'en' });
  const publicClient = await created({});
  expect(publicClient.subject_type).toBe('public');
  const first = await created({ subject_type: 'pairwise' });
  const other = await created({ subject_type: 'pairwise', redirect_uris: [OTHER_CALLBACK] });
  const sameSector = await created({ subject_type: 'pairwise' });
  expect(first.subject_type).toBe('pairwise');

  const plain = await signIn(t.issuer, publicClient, user.email);
  expect(plain.sub).toBe(user.id);
  const a = await signIn(t.issuer, first, user.email);
  const b = await signIn(t.issuer, other, user.email, OTHER_CALLBACK);
  const c = await signIn(t.issuer, sameSector, user.email);
  expect(a.sub).not.toBe(user.id);
  expect(b.sub).not.toBe(user.id);
  expect(a.sub).not.toBe(b.sub);
  // OIDC Core 8.1: clients of one sector (here the host localhost:8976) share the value.
  expect(c.sub).toBe(a.sub);
  // Another user gets another pairwise sub at the same client.
  const someoneElse = await registerUser(t.app, { locale: 'en' });
  expect((await signIn(t.issuer, first, someoneElse.email)).sub).not.toBe(a.sub);

  // Introspection by the client tells the same pairwise sub.
  const introspected = await a.rp.introspect(a.tokens.access_token);
  expect(introspected.active).toBe(true);
  expect(introspected.sub).toBe(a.sub);

  const metadata = a.rp.metadata as Record<string, unknown>;
  expect(metadata.subject_types_supported).toEqual(['public', 'pairwise']);
}, 90_000);

test('redirect URIs on two hosts need a sector_identifier_uri listing them; its host is the sector', async () => {
  const user = await registerUser(t.app, { locale: 'en' });
  const both = [RP_CALLBACK, OTHER_CALLBACK];
  const missing = await createClient({ subject_type: 'pairwise', redirect_uris: both });
  expect(missing.status).toBe(400);
  expect(missing.body.detail).toMatch(/sector_identifier_uri/);
  const publicWithSector = await createClient({ sector_identifier_uri: 'https://rp.example.com/sector.json' });
  expect(publicWithSector.status).toBe(400);

  const plainHttp = await createClient({
    subject_type: 'pairwise',
    redirect_uris: both,
    sector_identifier_uri: 'http://127.0.0.1:8979/sector.json',
  });
  expect(plainHttp.status).toBe(400);

  const partial = await sectorServer([RP_CALLBACK]);
  const good = await sectorServer(both);
  const untrust = trustSectorServers();
  try {
    const unlisted = await createClient({
      subject_type: 'pairwise',
      redirect_uris: both,
      sector_identifier_uri: partial.uri,
    });
    expect(unlisted.status).toBe(400);
    expect(unlisted.body.detail).toContain(OTHER_CALLBACK);

    const client = await created({ subject_type: 'pairwise', redirect_uris: both, sector_identifier_uri: good.uri });
    expect(client.sector_identifier_uri).toBe(good.uri);
    // Both redirect URIs are one sector: the user has one sub at this client, whichever is used.
    const viaFirst = await signIn(t.issuer, client, user.email, RP_CALLBACK);
    const viaOther = await signIn(t.issuer, client, user.email, OTHER_CALLBACK);
    expect(viaFirst.sub).not.toBe(user.id);
    expect(viaOther.sub).toBe(viaFirst.sub);

    // A rename does not read the document again; adding a redirect URI it does not list is refused.
    await closeServer(good.server);
    const renamed = await api.call<Created>('PATCH', `/clients/${client.client_id}`, {
      body: { client_name: 'Renamed' },
    });
    expect(renamed.status).toBe(200);
    const unreachable = await api.call('PATCH', `/clients/${client.client_id}`, {
      body: { redirect_uris: [...both, 'http://localhost:8978/cb'] },
    });
    expect(unreachable.status).toBe(400);
  } finally {
    untrust();
    await closeServer(partial.server);
    if (good.server.listening) await closeServer(good.server);
  }
}, 90_000);

test("a back-channel logout token carries the client's pairwise sub", async () => {
  const user = await registerUser(t.app, { locale: 'en' });
  const rp = await new LogoutRp(t.issuer).start();
  try {
    const client = await created({
      subject_type: 'pairwise',
      post_logout_redirect_uris: ['http://localhost:8976/'],
      backchannel_logout_uri: rp.uri,
    });
    rp.clientId = client.client_id;
    const browser = new HttpClient({ 'accept-language': 'en' });
    const relyingParty = await RelyingParty.discover(t.issuer, client.client_id, client.client_secret);
    const pending = await relyingParty.authorizationRequest({ scope: 'openid', redirect_uri: RP_CALLBACK });
    const last = await loginThroughPages(browser, pending.url.toString(), RP_CALLBACK, {
      email: user.email,
      password: TEST_PASSWORD,
    });
    const tokens = await relyingParty.redeem(new URL(last.location!), pending);
    const claims = tokens.claims()!;
    expect(claims.sub).not.toBe(user.id);

    const end = relyingParty.endSessionUrl({ id_token_hint: tokens.id_token!, client_id: client.client_id });
    const page = await browser.follow(end.toString());
    const done = await browser.request(`${t.issuer}/session/end/confirm`, {
      form: { ...hiddenInputs(page.body, '/session/end/confirm'), logout: 'yes' },
    });
    expect(done.status).toBeLessThan(400);
    const [token] = await rp.waitFor(1);
    expect(token).toMatchObject({ sub: claims.sub, sid: claims.sid });
    expect(rp.refused).toEqual([]);
  } finally {
    await rp.stop();
  }
}, 90_000);

test('the pairwise sub stays the same after a restart (another process on the same database)', async () => {
  const user = await registerUser(t.app, { locale: 'en' });
  const client = await created({ subject_type: 'pairwise' });
  const before = (await signIn(t.issuer, client, user.email)).sub;
  const { issuer } = t;
  const port = Number(new URL(issuer).port);
  const prefix = t.app.config.redisKeyPrefix;
  await t.close();
  t = await startTestApp({ overrides: { databaseUrl: scratch.url, port, issuer, redisKeyPrefix: prefix } });
  api = new AdminApiClient(t.issuer);
  await api.authenticate(admin);
  expect((await signIn(t.issuer, client, user.email)).sub).toBe(before);
}, 90_000);

test('only clients users log in to may be pairwise', async () => {
  const service = await createClient({
    subject_type: 'pairwise',
    redirect_uris: [],
    grant_types: ['client_credentials'],
  });
  expect(service.status).toBe(400);
  expect(service.body.detail).toMatch(/authorization_code/);
});

/** `npm run admin -- ...` on the test database (the CLI's direct back end), as an operator runs it. */
const cli = (...args: string[]) => runAdminCli(args, cliEnv(scratch.url));

test('the CLI registers a pairwise client and turns it back to public', async () => {
  const made = await cli(
    ...['client', 'create', '--name', 'CLI pairwise', '--redirect-uri', RP_CALLBACK],
    ...['--subject-type', 'pairwise'],
  );
  expect([made.code, made.stderr]).toEqual([0, '']);
  const client = JSON.parse(made.stdout) as Created;
  expect(client.subject_type).toBe('pairwise');
  const user = await registerUser(t.app, { locale: 'en' });
  expect((await signIn(t.issuer, client, user.email)).sub).not.toBe(user.id);

  const [back, wrong] = await Promise.all([
    cli('client', 'update', client.client_id, '--subject-type', 'public'),
    cli('client', 'update', client.client_id, '--subject-type', 'secret'),
  ]);
  expect(JSON.parse(back.stdout)).toMatchObject({ subject_type: 'public' });
  expect(wrong.code).not.toBe(0);
  expect(wrong.stderr).toMatch(/unknown subject type: secret/);
  expect((await signIn(t.issuer, client, user.email)).sub).toBe(user.id);
}, 120_000);
