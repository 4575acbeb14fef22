/**
 * Issue 18: an install made before MONBAN_SECRET could rotate, upgraded. Such an install stored
 * sealed values as `v1.iv.body` (no id of the sealing secret), password hashes without the
 * pepper's secret id, and had no derived_keys table. The test makes an install with today's code
 * under secret A, turns it into that shape (the ciphertexts are the same: the id is not part of
 * the authenticated data; the schema is migrated back to before derived_keys), then starts the
 * upgraded server on it: the client, the passwords and the authenticator apps work, and
 * `npm run admin -- secrets reseal` moves every old value to the current format.
 */
import { randomBytes } from 'node:crypto';
import { Migrator, sql } from 'kysely';
import { migrations } from '../../../db/migrations/index.js';
import { createApp, type App } from '../../../src/app.js';
import { loadConfig } from '../../../src/config/load.js';
import { openDatabase } from '../../../src/db/database.js';
import { certificationHash } from '../../../src/identity/accounts/certification.js';
import { MasterSecret } from '../../../src/security/master-secret.js';
import { createScratchDatabase } from '../../helpers/databases.js';
import { TEST_REDIS_URL } from '../../helpers/env.js';
import { registerClient, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient } from '../../helpers/http-client.js';
import { ENGLISH, rpSignIn } from '../../helpers/account.js';
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
import { cliEnv, runAdminCli } from '../../helpers/admin-cli.js';

const A = randomBytes(32).toString('base64');
const ID_A = new MasterSecret(Buffer.from(A, 'base64')).id;
const LAST_BEFORE_ROTATION = '2026_12_02_0500_resource_servers';

/** Every sealed column: [table, column]. */
const SEALED = [
  ['server_keys', 'material_sealed'],
  ['oidc_clients', 'client_secret_sealed'],
  ['mfa_factors', 'secret_sealed'],
  ['outbox', 'payload_sealed'],
] as const;

const runCli = (databaseUrl: string, secret: string, args: string[]) => runAdminCli(args, cliEnv(databaseUrl, secret));

describe('upgrade from an install made before MONBAN_SECRET rotation', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let port: number;
  let issuer: string;
  const prefix = `monban-test:${randomBytes(6).toString('hex')}:`;
  let app: App | undefined;

  async function start(): Promise<App> {
    const config = loadConfig({
      env: { NODE_ENV: 'test' },
      overrides: {
        port,
        issuer,
        secret: A,
        dataDir: 'memory://',
        redisKeyPrefix: prefix,
        databaseUrl: scratch.url,
        redisUrl: TEST_REDIS_URL,
      },
    });
    const started = await createApp(config);
    await started.listen(port);
    app = started;
    return started;
  }

  async function stop(): Promise<void> {
    await app?.stop();
    app = undefined;
  }

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    port = await freePort();
    issuer = `http://localhost:${port}`;
  });
  afterAll(async () => {
    await stop();
    await scratch?.drop();
  });

  /** What the pre-rotation code left: v1 values, hashes without a secret id, no derived_keys. */
  async function makePreRotation(): Promise<void> {
    const database = await openDatabase({ databaseUrl: scratch.url, dataDir: 'memory://', poolSize: 1 });
    try {
      const { db } = database;
      const migrator = new Migrator({ db, provider: { getMigrations: () => Promise.resolve(migrations) } });
      const back = await migrator.migrateTo(LAST_BEFORE_ROTATION);
      expect(back.error).toBeUndefined();
      for (const [table, column] of SEALED) {
        await sql`update ${sql.table(table)} set ${sql.ref(column)} = regexp_replace(${sql.ref(column)}, '^v2\\.[^.]+\\.', 'v1.')
                  where ${sql.ref(column)} like 'v2.%'`.execute(db);
      }
      await sql`update accounts set password_hash = substr(password_hash, ${ID_A.length + 2})
                where password_hash like ${`${ID_A}:%`}`.execute(db);
    } finally {
      await database.close();
    }
  }

  async function sealedFormats(h: { app: App }): Promise<Record<string, string[]>> {
    const formats: Record<string, string[]> = {};
    for (const [table, column] of SEALED) {
      const { rows } = await sql<{ prefix: string }>`
        select distinct split_part(${sql.ref(column)}, '.', 1) || '.' || case when ${sql.ref(column)} like 'v1.%' then '' else split_part(${sql.ref(column)}, '.', 2) end as prefix
        from ${sql.table(table)} where ${sql.ref(column)} is not null
      `.execute(h.app.db);
      formats[table] = rows.map((r) => r.prefix).sort();
    }
    return formats;
  }

  it('opens every old value after the upgrade, and reseal moves them to the current format', async () => {
    let h = { app: await start(), issuer };
    const client = await registerClient(h.app);
    const withApp = await userWithTotp(h);
    const plain = await registerUser(h.app);
    const certification = certificationHash(h.app.certificationKey, withApp.user.id);
    const passkeyKey = h.app.passkeyUserKey;
    await stop();

    await makePreRotation();
    const before = await openDatabase({ databaseUrl: scratch.url, dataDir: 'memory://', poolSize: 1 });
    try {
      const legacy = await before.db
        .selectFrom('accounts')
        .select('password_hash')
        .where('id', '=', plain.id)
        .executeTakeFirstOrThrow();
      expect(legacy.password_hash?.startsWith('$2')).toBe(true);
      const { rows } = await sql<{
        n: string;
      }>`select count(*) as n from server_keys where material_sealed like 'v1.%'`.execute(before.db);
      expect(Number(rows[0]?.n)).toBeGreaterThanOrEqual(3);
    } finally {
      await before.close();
    }

    // The upgraded server: migrates forward, derives its kept keys from A, opens v1 values.
    h = { app: await start(), issuer };
    expect(certificationHash(h.app.certificationKey, withApp.user.id)).toBe(certification);
    expect(h.app.passkeyUserKey.equals(passkeyKey)).toBe(true);
    // Password (legacy hash) and authenticator app (v1 secret), at the client (v1 client secret).
    const { browser, auth, page } = await rpLogin(h, client, withApp.user.email);
    expect(isSecondStep(page)).toBe(true);
    const passed = await passSecondStep(browser, page, { code: totpCode(withApp.secret, 1) });
    const claims = await redeemAtRp(h.issuer, client, await followToRp(browser, passed), auth.verifier);
    expect(claims.sub).toBe(withApp.user.id);
    const tokens = await rpSignIn(new HttpClient(ENGLISH), issuer, client, plain.email, TEST_PASSWORD);
    expect(jwtClaims(tokens.id_token).sub).toBe(plain.id);
    // The legacy hash is upgraded at login.
    const upgraded = await h.app.db
      .selectFrom('accounts')
      .select('password_hash')
      .where('id', '=', plain.id)
      .executeTakeFirstOrThrow();
    expect(upgraded.password_hash?.startsWith(`${ID_A}:`)).toBe(true);
    expect((await sealedFormats(h)).oidc_clients).toEqual(['v1.']);
    await stop();

    const reseal = await runCli(scratch.url, A, ['secrets', 'reseal']);
    expect(reseal.code).toBe(0);
    const report = JSON.parse(reseal.stdout) as {
      sealedWith: string;
      stores: Record<string, { found: number; resealed: number; failed: number }>;
    };
    expect(report.sealedWith).toBe(ID_A);
    expect(report.stores['client secrets']).toEqual({ found: 1, resealed: 1, failed: 0 });
    expect(report.stores['authenticator app secrets']).toEqual({ found: 1, resealed: 1, failed: 0 });
    expect(report.stores['server keys']!.resealed).toBeGreaterThanOrEqual(3);
    expect(Object.values(report.stores).every((s) => s.failed === 0)).toBe(true);

    // Everything is in the current format, and still works (a recovery code made before the upgrade too).
    h = { app: await start(), issuer };
    const formats = await sealedFormats(h);
    for (const [table] of SEALED) expect(formats[table]!.every((f) => f === `v2.${ID_A}`)).toBe(true);
    expect(formats.server_keys).toEqual([`v2.${ID_A}`]);
    const again = await rpLogin(h, client, withApp.user.email);
    const passedAgain = await passSecondStep(again.browser, again.page, { recoveryCode: withApp.recoveryCodes[0]! });
    const claimsAgain = await redeemAtRp(
      h.issuer,
      client,
      await followToRp(again.browser, passedAgain),
      again.auth.verifier,
    );
    expect(claimsAgain.sub).toBe(withApp.user.id);
    expect(certificationHash(h.app.certificationKey, withApp.user.id)).toBe(certification);
  }, 600_000);
});
