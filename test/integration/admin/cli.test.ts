import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { createScratchDatabase } from '../../helpers/databases.js';
import { auditLogCaughtUp } from '../../helpers/audit.js';
import { isActive, rpSignIn } from '../../helpers/account.js';
import { CLI_ARGV, cliEnv, type CliResult } from '../../helpers/admin-cli.js';
import {
  authorizationUrl,
  exchangeCode,
  registerUser,
  requestServiceToken,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages } from '../../helpers/http-client.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** With `tty`, inside script(1): the CLI's stdout is a terminal, as when an operator types the command. */
function runCli(databaseUrl: string, args: string[], tty = false): Promise<CliResult> {
  const env = cliEnv(databaseUrl);
  const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
  return new Promise((resolve, reject) => {
    const child = tty
      ? spawn('script', ['-qec', [process.execPath, ...CLI_ARGV, ...args].map(quote).join(' '), '/dev/null'], {
          cwd: ROOT,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : spawn(process.execPath, [...CLI_ARGV, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 200_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function json<T>(result: CliResult): T {
  // Empty stderr also proves oidc-provider's "Unsupported runtime" warning is gone on Node 22/24.
  expect([result.code, result.stderr]).toEqual([0, '']);
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
  token_endpoint_auth_method: string;
  post_logout_redirect_uris: string[];
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
      web: [
        'client',
        'create',
        '--name',
        'Web Shop',
        '--redirect-uri',
        'https://rp.example.com/cb',
        '--redirect-uri',
        RP_CALLBACK,
      ],
      spa: ['client', 'create', '--name', 'SPA', '--public', '--redirect-uri', RP_CALLBACK],
      machine: ['client', 'create', '--name', 'Nightly batch', '--grant', 'client_credentials'],
      plainHttp: ['client', 'create', '--name', 'Evil', '--redirect-uri', 'http://evil.example.com/cb'],
      fragment: ['client', 'create', '--name', 'Frag', '--redirect-uri', 'https://rp.example.com/cb#frag'],
      user: [
        'user',
        'create',
        '--email',
        email,
        '--password',
        password,
        '--given-name',
        'Taro',
        '--family-name',
        'Sato',
        '--locale',
        'en',
      ],
    };
    const answers = await Promise.all(Object.values(batch).map((args) => cli(...args)));
    Object.keys(batch).forEach((name, i) => {
      results[name] = answers[i]!;
    });
  }, 240_000);

  afterAll(async () => {
    await t?.close();
    await scratch?.drop();
  });

  it('client create prints the new client as JSON, with a secret for a confidential client', () => {
    const web = json<CreatedClient>(results.web!);
    expect(web).toMatchObject({
      client_name: 'Web Shop',
      token_endpoint_auth_method: 'client_secret_basic',
      post_logout_redirect_uris: [],
      admin: false,
      redirect_uris: ['https://rp.example.com/cb', RP_CALLBACK],
      grant_types: ['authorization_code', 'refresh_token'],
    });
    expect(web.client_id).toMatch(/^[\w-]{16,}$/);
    expect(web.client_secret).toMatch(/^[\w-]{43,}$/);
  });

  it('--public gives a client without a secret', () => {
    const spa = json<CreatedClient>(results.spa!);
    expect(spa.token_endpoint_auth_method).toBe('none');
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
    const audit = await t.app.db
      .selectFrom('audit_events')
      .selectAll()
      .where('type', '=', 'admin.client.created')
      .execute();
    expect(audit.map((e) => e.client_id)).toEqual(
      expect.arrayContaining([web.client_id, machine.client_id, spa.client_id]),
    );
    expect(JSON.stringify(audit)).not.toContain(web.client_secret);
  });

  it('refuses bad redirect URIs with a clear message and a non-zero exit', () => {
    expectRefused(results.plainHttp!, /^error: redirect URI must use https.*http:\/\/evil\.example\.com\/cb/m);
    expectRefused(
      results.fragment!,
      /^error: redirect URI must not contain a fragment: https:\/\/rp\.example\.com\/cb#frag/m,
    );
  });

  it('user create makes an active, verified account that can log in to a CLI-made client', async () => {
    const user = json<{ id: string; email: string; status: string; username: string }>(results.user!);
    expect(user).toMatchObject({ email, status: 'active' });
    expect(user).not.toHaveProperty('password_hash');
    const row = await t.app.db.selectFrom('accounts').selectAll().where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      status: 'active',
      email_verified: true,
      given_name: 'Taro',
      family_name: 'Sato',
      locale: 'en',
    });
    expect(row.password_hash).not.toContain(password);

    const web = json<CreatedClient>(results.web!);
    const auth = authorizationUrl(t.issuer, web.client_id);
    const last = await loginThroughPages(new HttpClient({ 'accept-language': 'en' }), auth.url, RP_CALLBACK, {
      email,
      password,
    });
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
        grant_type: 'authorization_code',
        client_id: spa.client_id,
        redirect_uri: RP_CALLBACK,
        code: new URL(last.location!).searchParams.get('code')!,
        code_verifier: auth.verifier,
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
    expect(list.find((c) => c.client_id === web.client_id)).toMatchObject({
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: web.redirect_uris,
    });
    expect(listed.stdout).not.toMatch(/"client_secret"/);
    expect(listed.stdout).not.toContain(web.client_secret);

    // The deleted client can no longer get tokens.
    const res = await requestServiceToken(t.issuer, machine);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
  }, 60_000);

  it("user disable ends the account's tokens at once, user enable lets it back in, user unlock unlocks", async () => {
    const web = json<CreatedClient>(results.web!);
    const user = await registerUser(t.app, { locale: 'en' });
    const tokens = await rpSignIn(
      new HttpClient({ 'accept-language': 'en' }),
      t.issuer,
      web,
      user.email,
      TEST_PASSWORD,
    );
    expect(await isActive(t.issuer, web, tokens.access_token)).toBe(true);
    // Without the servers' Redis, even: what ends the tokens is in PostgreSQL.

    const disabled = json(await cli('user', 'disable', '--email', user.email, '--reason', 'left the company'));
    expect(disabled).toMatchObject({ id: user.id, email: user.email, status: 'disabled' });
    expect(await isActive(t.issuer, web, tokens.access_token)).toBe(false);
    const audit = await t.app.db
      .selectFrom('audit_events')
      .select('details')
      .where('account_id', '=', user.id)
      .where('type', '=', 'account.disabled')
      .executeTakeFirstOrThrow();
    expect(audit.details).toEqual({ from: 'active', to: 'disabled', by: 'cli', reason: 'left the company' });

    const [enabled, unlocked, unknown] = await Promise.all([
      cli('user', 'enable', '--email', user.email),
      cli('user', 'unlock', '--email', user.email),
      cli('user', 'hold', '--email', 'nobody@example.com'),
    ]);
    expect(json(enabled)).toMatchObject({ status: 'active' });
    expect(json(unlocked)).toMatchObject({ id: user.id, email: user.email, locked: false });
    expectRefused(unknown, /^error: no account with the email address nobody@example.com/m);
    await rpSignIn(new HttpClient({ 'accept-language': 'en' }), t.issuer, web, user.email, TEST_PASSWORD);
  }, 180_000);

  it('client update changes the name and URIs as PATCH does, with the same checks', async () => {
    const web = json<CreatedClient>(results.web!);
    const updated = json<CreatedClient>(
      await cli(
        'client',
        'update',
        web.client_id,
        '--name',
        'Web Shop (new)',
        '--post-logout-redirect-uri',
        'https://rp.example.com/bye',
      ),
    );
    expect(updated).toMatchObject({
      client_id: web.client_id,
      client_name: 'Web Shop (new)',
      redirect_uris: web.redirect_uris,
      post_logout_redirect_uris: ['https://rp.example.com/bye'],
    });
    expect(updated).not.toHaveProperty('client_secret');
    const [evil, unknown, cleared] = await Promise.all([
      cli('client', 'update', web.client_id, '--redirect-uri', 'http://evil.example.com/cb'),
      cli('client', 'update', 'no-such-client', '--name', 'x'),
      cli('client', 'update', web.client_id, '--no-post-logout-redirect-uri'),
    ]);
    expectRefused(evil, /^error: redirect URI must use https.*http:\/\/evil\.example\.com\/cb/m);
    expectRefused(unknown, /^error: no client with id no-such-client/m);
    expect(json<CreatedClient>(cleared).post_logout_redirect_uris).toEqual([]);
    // The login still works with the client as it is now.
    const user = await registerUser(t.app, { locale: 'en' });
    await rpSignIn(new HttpClient({ 'accept-language': 'en' }), t.issuer, web, user.email, TEST_PASSWORD);
  }, 90_000);

  it('client create --require-par --require-dpop sets both per-client rules; client update --no-require-par lifts one', async () => {
    const strict = json<CreatedClient & Record<string, unknown>>(
      await cli(
        ...['client', 'create', '--name', 'Strict', '--redirect-uri', 'https://strict.example.com/cb'],
        ...['--require-par', '--require-dpop'],
      ),
    );
    expect(strict).toMatchObject({ require_pushed_authorization_requests: true, dpop_bound_access_tokens: true });
    const [lifted, both] = await Promise.all([
      cli('client', 'update', strict.client_id, '--no-require-par'),
      cli('client', 'update', strict.client_id, '--require-dpop', '--no-require-dpop'),
    ]);
    expect(json(lifted)).toMatchObject({
      require_pushed_authorization_requests: false,
      dpop_bound_access_tokens: true,
    });
    expectRefused(both, /^error: --require-dpop or --no-require-dpop, not both/m);
  }, 150_000);

  it('audit tail shows the newest events, the newest last', async () => {
    const web = json<CreatedClient>(results.web!);
    json(await cli('client', 'update', web.client_id, '--name', 'Tail marker'));
    await auditLogCaughtUp(t.app.db);
    const tail = json<{ id: number; type: string; data: Record<string, unknown> }[]>(
      await cli('audit', 'tail', '--limit', '3'),
    );
    expect(tail).toHaveLength(3);
    expect(tail.map((e) => e.id)).toEqual([...tail.map((e) => e.id)].sort((a, b) => a - b));
    expect(tail.at(-1)).toMatchObject({
      type: 'admin.client.updated',
      actor: 'cli',
      data: { client_id: web.client_id },
    });
  }, 60_000);

  it('audit tail --follow prints each new event as one JSON line until Ctrl-C', async () => {
    const web = json<CreatedClient>(results.web!);
    const child = spawn(process.execPath, [...CLI_ARGV, 'audit', 'tail', '--limit', '1', '--follow'], {
      cwd: ROOT,
      env: cliEnv(scratch.url),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines = () => stdout.split('\n').filter(Boolean);
    const seen = (count: number) =>
      new Promise<void>((resolve) => {
        const check = () => lines().length >= count && resolve();
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          check();
        });
        check();
      });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    await seen(1);
    json(await cli('client', 'update', web.client_id, '--name', 'Followed'));
    await seen(2);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    const events = lines().map(
      (line) => JSON.parse(line) as { id: number; type: string; data: { client_id?: string } },
    );
    expect(events[1]).toMatchObject({ type: 'admin.client.updated', data: { client_id: web.client_id } });
    expect(events[1]!.id).toBeGreaterThan(events[0]!.id);
  }, 90_000);

  it('prints a readable table on a terminal, JSON with --json or when piped', async () => {
    const [table, forced] = await Promise.all([
      runCli(scratch.url, ['client', 'list'], true),
      runCli(scratch.url, ['client', 'list', '--json'], true),
    ]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/┌.*┐/);
    expect(table.stdout).toMatch(/│ client_id +│ client_name/);
    expect(table.stdout).toContain('SPA');
    expect(table.stdout).not.toContain('"client_name"');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('"client_name": "SPA"');
  }, 90_000);

  it('company create makes a company with its admin; a wrong 法人番号 is refused in words; members come and go', async () => {
    const created = json<{ id: string; corporate_number: string; domains: { txt_record: { value: string } }[] }>(
      await cli(
        ...['company', 'create', '--name-ja', '株式会社門番', '--name-latin', 'Monban K.K.'],
        ...['--corporate-number', '7000012050002', '--domain', 'cli-kaisha.example.jp', '--admin', email],
      ),
    );
    expect(created.corporate_number).toBe('7000012050002');
    expect(created.domains[0]?.txt_record.value).toMatch(/^monban-verification=/);
    expectRefused(
      await cli(
        'company',
        'create',
        '--name-ja',
        '会社',
        '--name-latin',
        'Kaisha',
        '--corporate-number',
        '1234567890123',
      ),
      /corporate number.*\(CORPORATE_NUMBER_INVALID\)/,
    );
    // The only admin can neither step down nor leave: a company keeps one.
    expectRefused(
      await cli('company', 'set-member', created.id, '--email', email, '--role', 'member'),
      /at least one administrator.*\(COMPANY_LAST_ADMIN\)/,
    );
    const second = await registerUser(t.app, { locale: 'en' });
    const member = json<{ role: string }>(
      await cli('company', 'set-member', created.id, '--email', second.email, '--role', 'member'),
    );
    expect(member.role).toBe('member');
    const shown = json<{ id: string }[]>(await cli('company', 'list'));
    expect(shown.map((c) => c.id)).toContain(created.id);
    const invited = json<{ invitations: { email: string; status: string }[] }>(
      await cli(
        'company',
        'invite',
        created.id,
        '--email',
        'cli-a@cli-kaisha.example.jp',
        '--email',
        'CLI-B@cli-kaisha.example.jp',
      ),
    );
    expect(invited.invitations.map((i) => [i.email, i.status]).sort()).toEqual([
      ['cli-a@cli-kaisha.example.jp', 'pending'],
      ['cli-b@cli-kaisha.example.jp', 'pending'],
    ]);
    const mails = await t.app.db
      .selectFrom('outbox')
      .select('template')
      .where('recipient', 'in', ['cli-a@cli-kaisha.example.jp', 'cli-b@cli-kaisha.example.jp'])
      .execute();
    expect(mails.map((m) => m.template)).toEqual(['invitation', 'invitation']);
    json(await cli('company', 'remove-member', created.id, '--email', second.email));
    const account = await t.app.db
      .selectFrom('accounts')
      .select('company_managed')
      .where('id', '=', second.id)
      .executeTakeFirstOrThrow();
    expect(account.company_managed).toBe(false);
  }, 200_000);

  it('user update changes profile fields as PATCH does; an empty value clears; nothing to change is refused', async () => {
    const user = await registerUser(t.app, { locale: 'en' });
    const updated = json(
      await cli(
        ...['user', 'update', '--email', user.email, '--given-name', '花子', '--family-name', '山田'],
        ...['--locale', 'ja', '--zoneinfo', 'Asia/Tokyo', '--phone', '+819012345678'],
      ),
    );
    expect(updated).toMatchObject({
      id: user.id,
      given_name: '花子',
      family_name: '山田',
      locale: 'ja',
      zoneinfo: 'Asia/Tokyo',
      phone_number: '+819012345678',
    });
    const [cleared, nothing, badZone] = await Promise.all([
      cli('user', 'update', '--email', user.email, '--phone', ''),
      cli('user', 'update', '--email', user.email),
      cli('user', 'update', '--email', user.email, '--zoneinfo', 'Mars/Olympus'),
    ]);
    expect(json(cleared)).toMatchObject({ given_name: '花子', phone_number: null });
    expectRefused(nothing, /^error: user update needs a field to change/m);
    expect(badZone.code).not.toBe(0);
    expect(badZone.stderr).toMatch(/TIMEZONE_INVALID/);
  }, 150_000);

  it('user require-phishing-resistant sets and lifts the passkey-only policy (issue 17), audited', async () => {
    const user = await registerUser(t.app, { locale: 'en' });
    const policy = json(await cli('user', 'require-phishing-resistant', '--email', user.email));
    expect(policy).toMatchObject({ id: user.id, require_phishing_resistant: true });
    const lifted = json(await cli('user', 'require-phishing-resistant', '--email', user.email, '--off'));
    expect(lifted).toMatchObject({ require_phishing_resistant: false });
    const events = await t.app.db
      .selectFrom('audit_events')
      .select(['type', 'actor'])
      .where('account_id', '=', user.id)
      .where('type', '=', 'admin.user.updated')
      .execute();
    expect(events).toEqual([
      { type: 'admin.user.updated', actor: 'cli' },
      { type: 'admin.user.updated', actor: 'cli' },
    ]);
  }, 150_000);
});
