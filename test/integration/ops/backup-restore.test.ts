/**
 * Issue 18's backup runbook (docs/operations.md), done: a database with users and a client is
 * dumped with pg_dump, restored with pg_restore into a new empty database, and Monban started on
 * the restored one with the same MONBAN_SECRET and an empty Redis serves the same users.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createApp, type App } from '../../../src/app.js';
import { loadConfig } from '../../../src/config/load.js';
import { ENGLISH, rpSignIn } from '../../helpers/account.js';
import { createScratchDatabase } from '../../helpers/databases.js';
import { TEST_REDIS_URL } from '../../helpers/env.js';
import { registerClient, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient } from '../../helpers/http-client.js';
import {
  followToRp,
  isSecondStep,
  jwtClaims,
  passSecondStep,
  redeemAtRp,
  rpLogin,
  totpCode,
  userWithTotp,
} from '../../helpers/mfa.js';
import { freePort } from '../../helpers/ports.js';

const run = promisify(execFile);
const SECRET = randomBytes(32).toString('base64');
/** pg_dump and pg_restore: on the PATH, or in PG_BIN. */
const tool = (name: string) => (process.env.PG_BIN ? path.join(process.env.PG_BIN, name) : name);
const haveTools = ['/usr/bin', ...(process.env.PATH ?? '').split(':'), process.env.PG_BIN ?? ''].some(
  (dir) => dir && existsSync(path.join(dir, 'pg_dump')) && existsSync(path.join(dir, 'pg_restore')),
);
if (!haveTools) process.stderr.write('backup-restore.test: pg_dump/pg_restore not found, skipped\n');

(haveTools ? describe : describe.skip)('backup and restore (pg_dump, pg_restore)', () => {
  const databases: Awaited<ReturnType<typeof createScratchDatabase>>[] = [];
  const apps: App[] = [];
  const folder = mkdtempSync(path.join(tmpdir(), 'monban-backup-'));

  async function start(databaseUrl: string): Promise<{ app: App; issuer: string }> {
    const port = await freePort();
    const issuer = `http://localhost:${port}`;
    const config = loadConfig({
      env: { NODE_ENV: 'test' },
      overrides: {
        port,
        issuer,
        secret: SECRET,
        dataDir: 'memory://',
        // A Redis prefix of its own: the restored deployment starts with an empty Redis.
        redisKeyPrefix: `monban-test:${randomBytes(6).toString('hex')}:`,
        databaseUrl,
        redisUrl: TEST_REDIS_URL,
      },
    });
    const app = await createApp(config);
    apps.push(app);
    await app.listen(port);
    return { app, issuer };
  }

  afterAll(async () => {
    for (const app of apps) await app.stop().catch(() => undefined);
    for (const database of databases) await database.drop();
    rmSync(folder, { recursive: true, force: true });
  });

  it('serves the same users and client from a restored dump with the same MONBAN_SECRET', async () => {
    const source = await createScratchDatabase();
    databases.push(source);
    const before = await start(source.url);
    const client = await registerClient(before.app);
    const plain = await registerUser(before.app);
    const withApp = await userWithTotp(before);
    await before.app.stop();

    const dump = path.join(folder, 'monban.dump');
    await run(tool('pg_dump'), ['--format=custom', '--no-owner', `--file=${dump}`, source.url]);
    const target = await createScratchDatabase();
    databases.push(target);
    await run(tool('pg_restore'), ['--no-owner', '--exit-on-error', `--dbname=${target.url}`, dump]);
    // The source is gone: only the restored copy serves.
    await source.drop();
    databases.splice(databases.indexOf(source), 1);

    const after = await start(target.url);
    const tokens = await rpSignIn(new HttpClient(ENGLISH), after.issuer, client, plain.email, TEST_PASSWORD);
    expect(jwtClaims(tokens.id_token).sub).toBe(plain.id);
    const { browser, auth, page } = await rpLogin(after, client, withApp.user.email);
    expect(isSecondStep(page)).toBe(true);
    const passed = await passSecondStep(browser, page, { code: totpCode(withApp.secret, 1) });
    const claims = await redeemAtRp(after.issuer, client, await followToRp(browser, passed), auth.verifier);
    expect(claims.sub).toBe(withApp.user.id);
  }, 900_000);
});
