import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { createScratchDatabase } from '../../helpers/databases.js';
import { TEST_SECRET } from '../../helpers/env.js';
import { authorizationUrl, exchangeCode, requestServiceToken, RP_CALLBACK } from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages } from '../../helpers/http-client.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface CliResult { code: number | null; stdout: string; stderr: string }

/**
 * `npm run admin -- ...` (tsx src/admin/cli.ts) as an operator runs it: a fresh process on the
 * shared database, no Redis. tsx's loader is imported into node directly, which spares the extra
 * process the tsx binary starts.
 */
function runCli(databaseUrl: string, args: string[]): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'test', DATABASE_URL: databaseUrl, MONBAN_SECRET: TEST_SECRET };
  for (const name of ['REDIS_URL', 'NODE_OPTIONS', 'ISSUER', 'PORT', 'LOG_LEVEL', 'DATA_DIR']) delete env[name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/admin/cli.ts', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    child.once('error', reject);
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

function json<T>(result: CliResult): T {
  expect([result.code, result.stderr.replace(/^oidc-provider WARNING.*\n/gm, '')]).toEqual([0, '']);
  return JSON.parse(result.stdout) as T;
}

/** A refused command: non-zero exit, one clear line on stderr, nothing on stdout, no stack trace. */
function expectRefused(result: CliResult, message: RegExp): void {
  expect(result.code).not.toBe(0);
  expect(result.stdout).toBe('');
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

interface CreatedClient {
  client_id: string;
  client_name: string;
  client_secret?: string;
  public: boolean;
  redirect_uris: string[];
  grant_types: string[];
}

describe('admin CLI (npm run admin)', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let t: TestApp;
  const cli = (...args: string[]) => runCli(scratch.url, args);
  const email = `cli-${randomBytes(4).toString('hex')}@example.com`;
  const password = `Kaisha-Pass-${randomBytes(6).toString('hex')}!`;
  const results: Record<string, CliResult> = {};

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    // The running app migrates the database first; the CLI processes then share it.
    t = await startTestApp({ mode: 'server', overrides: { databaseUrl: scratch.url } });
    const batch = {
      web: ['client', 'create', '--name', 'Web Shop', '--redirect-uri', 'https://rp.example.com/cb', '--redirect-uri', RP_CALLBACK],
      spa: ['client', 'create', '--name', 'SPA', '--public', '--redirect-uri', RP_CALLBACK],
      machine: ['client', 'create', '--name', 'Nightly batch', '--grant', 'client_credentials'],
      plainHttp: ['client', 'create', '--name', 'Evil', '--redirect-uri', 'http://evil.example.com/cb'],
      fragment: ['client', 'create', '--name', 'Frag', '--redirect-uri', 'https://rp.example.com/cb#frag'],
      user: ['user', 'create', '--email', email, '--password', password, '--given-name', 'Taro', '--family-name', 'Sato', '--locale', 'en'],
    };
    const answers = await Promise.all(Object.values(batch).map((args) => cli(...args)));
    Object.keys(batch).forEach((name, i) => { results[name] = answers[i]!; });
  }, 90_000);

  afterAll(async () => {
    await t?.close();
    await scratch?.drop();
  });

  it('client create prints the new client as JSON, with a secret for a confidential client', () => {
    const web = json<CreatedClient>(results.web!);
    expect(web).toMatchObject({
      client_name: 'Web Shop',
      public: false,
      redirect_uris: ['https://rp.example.com/cb', RP_CALLBACK],
      grant_types: ['authorization_code', 'refresh_token'],
    });
    expect(web.client_id).toMatch(/^[\w-]{16,}$/);
    expect(web.client_secret).toMatch(/^[\w-]{43,}$/);
  });

  it('--public gives a client without a secret', () => {
    const spa = json<CreatedClient>(results.spa!);
    expect(spa.public).toBe(true);
    expect(spa).not.toHaveProperty('client_secret');
  });

  it('--grant client_credentials gives a machine client that gets a token from the running app', async () => {
    const machine = json<CreatedClient>(results.machine!);
    expect(machine.grant_types).toEqual(['client_credentials']);
    expect(machine.redirect_uris).toEqual([]);
    const res = await requestServiceToken(t.issuer, machine);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ access_token: expect.any(String), token_type: 'Bearer' });
    // It cannot be used for logins.
    const login = await new HttpClient().request(authorizationUrl(t.issuer, machine.client_id).url);
    expect(login.location).toBeUndefined();
    expect(login.status).toBe(400);
  });

  it('stores client secrets sealed, never in plaintext', async () => {
    const web = json<CreatedClient>(results.web!);
    const machine = json<CreatedClient>(results.machine!);
    const spa = json<CreatedClient>(results.spa!);
    const rows = await t.app.db.selectFrom('oidc_clients').selectAll().execute();
    const byId = new Map(rows.map((row) => [row.client_id, row]));
    for (const client of [web, machine]) {
      const row = byId.get(client.client_id)!;
      expect(row.client_secret_sealed).toBeTruthy();
      expect(JSON.stringify(row)).not.toContain(client.client_secret);
      expect(row.metadata).not.toHaveProperty('client_secret');
    }
    expect(byId.get(spa.client_id)!.client_secret_sealed).toBeNull();
    // Nor anywhere else in the database's audit trail.
    const audit = await t.app.db.selectFrom('audit_events').selectAll().where('type', '=', 'admin.client.created').execute();
    expect(audit.map((e) => e.client_id)).toEqual(expect.arrayContaining([web.client_id, machine.client_id, spa.client_id]));
    expect(JSON.stringify(audit)).not.toContain(web.client_secret);
  });

  it('refuses bad redirect URIs with a clear message and a non-zero exit', () => {
    expectRefused(results.plainHttp!, /^error: redirect URI must use https.*http:\/\/evil\.example\.com\/cb/m);
    expectRefused(results.fragment!, /^error: redirect URI must not contain a fragment: https:\/\/rp\.example\.com\/cb#frag/m);
  });

  it('user create makes an active, verified account that can log in to a CLI-made client', async () => {
    const user = json<{ id: string; email: string; status: string; username: string }>(results.user!);
    expect(user).toMatchObject({ email, status: 'active' });
    expect(user).not.toHaveProperty('password_hash');
    const row = await t.app.db.selectFrom('accounts').selectAll().where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'active', email_verified: true, given_name: 'Taro', family_name: 'Sato', locale: 'en' });
    expect(row.password_hash).not.toContain(password);

    const web = json<CreatedClient>(results.web!);
    const auth = authorizationUrl(t.issuer, web.client_id);
    const last = await loginThroughPages(new HttpClient({ 'accept-language': 'en' }), auth.url, RP_CALLBACK, { email, password });
    expect(last.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
    const token = await exchangeCode(t.issuer, web, new URL(last.location!).searchParams.get('code')!, auth.verifier);
    expect(token.status).toBe(200);
    expect(await token.json()).toHaveProperty('id_token');
  });

  it('a public client redeems its code with PKCE alone', async () => {
    const spa = json<CreatedClient>(results.spa!);
    const auth = authorizationUrl(t.issuer, spa.client_id);
    const last = await loginThroughPages(new HttpClient(), auth.url, RP_CALLBACK, { email, password });
    expect(last.location).toMatch(new RegExp(`^${RP_CALLBACK}\\?code=`));
    const res = await fetch(`${t.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code', client_id: spa.client_id, redirect_uri: RP_CALLBACK,
        code: new URL(last.location!).searchParams.get('code')!, code_verifier: auth.verifier,
      }),
    });
    expect(res.status).toBe(200);
  });

  it('client list shows every client without any secret; delete removes one, a second delete fails', async () => {
    const web = json<CreatedClient>(results.web!);
    const machine = json<CreatedClient>(results.machine!);

    expect(json(await cli('client', 'delete', machine.client_id))).toEqual({ deleted: machine.client_id });
    const [again, listed] = await Promise.all([cli('client', 'delete', machine.client_id), cli('client', 'list')]);
    expectRefused(again, new RegExp(`^error: no client with id ${machine.client_id}`, 'm'));

    const list = json<CreatedClient[]>(listed);
    expect(list.map((c) => c.client_name).sort()).toEqual(['SPA', 'Web Shop']);
    expect(list.find((c) => c.client_id === web.client_id)).toMatchObject({ public: false, redirect_uris: web.redirect_uris });
    expect(listed.stdout).not.toMatch(/secret/i);
    expect(listed.stdout).not.toContain(web.client_secret);

    // The deleted client can no longer get tokens.
    const res = await requestServiceToken(t.issuer, machine);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
  }, 60_000);
});
