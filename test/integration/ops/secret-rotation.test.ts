/**
 * Issue 18: MONBAN_SECRET rotates. Everything is made under secret A; Monban then runs with
 * "B,A" (B seals and peppers from now on, A still opens), `npm run admin -- secrets reseal`
 * moves every sealed value to B, and Monban runs with B alone: users, passwords, authenticator
 * apps, recovery codes, clients, keys, sessions and queued mail all still work.
 */
import { randomBytes } from 'node:crypto';
import { createApp, type App } from '../../../src/app.js';
import { loadConfig } from '../../../src/config/load.js';
import { enqueueMail } from '../../../src/courier/outbox.js';
import { openDatabase } from '../../../src/db/database.js';
import { certificationHash } from '../../../src/identity/accounts/certification.js';
import { Keyring, MasterSecret } from '../../../src/security/master-secret.js';
import { SecretBox } from '../../../src/security/secret-box.js';
import { ENGLISH, isLoginPage, open, rpSignIn } from '../../helpers/account.js';
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
import { MailCatcher } from '../../helpers/smtp.js';
import { cliEnv, runAdminCli } from '../../helpers/admin-cli.js';

const A = randomBytes(32).toString('base64');
const B = randomBytes(32).toString('base64');
const idOf = (secret: string) => new MasterSecret(Buffer.from(secret, 'base64')).id;

type Client = Awaited<ReturnType<typeof registerClient>>;

const runCli = (databaseUrl: string, secret: string, args: string[]) => runAdminCli(args, cliEnv(databaseUrl, secret));

describe('MONBAN_SECRET rotation', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let mail: MailCatcher;
  let port: number;
  let issuer: string;
  const prefix = `monban-test:${randomBytes(6).toString('hex')}:`;
  let app: App | undefined;

  async function start(secret: string): Promise<App> {
    const config = loadConfig({
      env: { NODE_ENV: 'test' },
      overrides: {
        port,
        issuer,
        secret,
        dataDir: 'memory://',
        redisKeyPrefix: prefix,
        databaseUrl: scratch.url,
        redisUrl: TEST_REDIS_URL,
        mail: { smtpUrl: mail.url, from: 'Monban <no-reply@monban.test>' },
        courier: { pollIntervalMs: 200, maxAttempts: 5, backoffSeconds: 1, maxBackoffSeconds: 2 },
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
    mail = await new MailCatcher().start();
    port = await freePort();
    issuer = `http://localhost:${port}`;
  });
  afterAll(async () => {
    await stop();
    await mail?.stop();
    await scratch?.drop();
  });

  /** A login at the RP with password and authenticator app (or recovery code): the ID token's subject. */
  async function loginWithSecondFactor(
    h: { app: App; issuer: string },
    client: Client,
    email: string,
    step: { code: string } | { recoveryCode: string },
  ): Promise<{ sub: unknown; browser: HttpClient }> {
    const { browser, auth, page } = await rpLogin(h, client, email);
    expect(isSecondStep(page)).toBe(true);
    const passed = await passSecondStep(browser, page, step);
    const claims = await redeemAtRp(h.issuer, client, await followToRp(browser, passed), auth.verifier);
    return { sub: claims.sub, browser };
  }

  it('keeps every user, client, key and queued mail working from A, through "B,A" and a reseal, to B alone', async () => {
    // Under A: a client, two users with an authenticator app, one with a password only.
    let h = { app: await start(A), issuer };
    const client = await registerClient(h.app);
    const first = await userWithTotp(h);
    const second = await userWithTotp(h);
    const plain = await registerUser(h.app);
    const certification = certificationHash(h.app.certificationKey, first.user.id);
    const passkeyKey = h.app.passkeyUserKey;
    await stop();

    // Removing A at once would lose what it sealed: Monban refuses to start and says why.
    await expect(start(B)).rejects.toThrow(/secrets reseal/);

    // "B,A": A still opens everything, B seals and peppers what is new.
    h = { app: await start(`${B},${A}`), issuer };
    const firstLogin = await loginWithSecondFactor(h, client, first.user.email, { code: totpCode(first.secret, 1) });
    expect(firstLogin.sub).toBe(first.user.id);
    const rehashed = await h.app.db
      .selectFrom('accounts')
      .select('password_hash')
      .where('id', '=', first.user.id)
      .executeTakeFirstOrThrow();
    expect(rehashed.password_hash?.startsWith(`${idOf(B)}:`)).toBe(true);
    expect(certificationHash(h.app.certificationKey, first.user.id)).toBe(certification);
    await stop();

    // A mail queued by a process still sealing with A (a rolling restart) waits in the outbox.
    const oldBox = new SecretBox(new Keyring([new MasterSecret(Buffer.from(A, 'base64'))]).derive('seal'));
    await enqueueMailUnder(oldBox, plain.email);

    const reseal = await runCli(scratch.url, `${B},${A}`, ['secrets', 'reseal']);
    expect(reseal.code).toBe(0);
    const report = JSON.parse(reseal.stdout) as {
      sealedWith: string;
      stores: Record<string, { found: number; resealed: number; failed: number }>;
      removable: string[];
    };
    expect(report.sealedWith).toBe(idOf(B));
    expect(report.removable).toEqual([idOf(A)]);
    expect(report.stores['client secrets']).toEqual({ found: 1, resealed: 1, failed: 0 });
    expect(report.stores['authenticator app secrets']).toEqual({ found: 2, resealed: 2, failed: 0 });
    expect(report.stores['queued messages']!.resealed).toBeGreaterThanOrEqual(1);
    expect(report.stores['server keys']!.resealed).toBeGreaterThanOrEqual(3);
    expect(reseal.stderr).toContain('client secrets: done, 1 resealed');
    // Nothing left to do: a second run (or a run after an interruption) finds only B's values.
    const again = JSON.parse((await runCli(scratch.url, `${B},${A}`, ['secrets', 'reseal'])).stdout) as typeof report;
    expect(Object.values(again.stores).every((s) => s.found === 0 && s.failed === 0)).toBe(true);

    // B alone.
    h = { app: await start(B), issuer };
    // The browser that logged in under "B,A" is still logged in (cookie keys and session kept).
    expect(isLoginPage(await open(firstLogin.browser, issuer, '/account'))).toBe(false);
    // A recovery code made under A, an authenticator app sealed under A, a password peppered under A.
    const recovered = await loginWithSecondFactor(h, client, first.user.email, {
      recoveryCode: first.recoveryCodes[0]!,
    });
    expect(recovered.sub).toBe(first.user.id);
    const withApp = await loginWithSecondFactor(h, client, second.user.email, { code: totpCode(second.secret, 1) });
    expect(withApp.sub).toBe(second.user.id);
    const tokens = await rpSignIn(new HttpClient(ENGLISH), issuer, client, plain.email, TEST_PASSWORD);
    expect(jwtClaims(tokens.id_token).sub).toBe(plain.id);
    const upgraded = await h.app.db
      .selectFrom('accounts')
      .select('password_hash')
      .where('id', '=', plain.id)
      .executeTakeFirstOrThrow();
    expect(upgraded.password_hash?.startsWith(`${idOf(B)}:`)).toBe(true);
    // The queued mail is sent; the certification hash and passkey user handles never changed.
    await mail.waitFor(plain.email, (m) => m.subject.length > 0);
    expect(certificationHash(h.app.certificationKey, first.user.id)).toBe(certification);
    expect(h.app.passkeyUserKey.equals(passkeyKey)).toBe(true);
    // Nothing in the database is sealed with A any more.
    const leftovers = await h.app.db
      .selectFrom('oidc_clients')
      .select('client_secret_sealed')
      .where('client_secret_sealed', 'not like', `v2.${idOf(B)}.%`)
      .execute();
    expect(leftovers).toEqual([]);
  }, 900_000);

  async function enqueueMailUnder(box: SecretBox, to: string): Promise<void> {
    const database = await openDatabase({ databaseUrl: scratch.url, dataDir: 'memory://', poolSize: 1 });
    try {
      await enqueueMail(database.db, box, { to, template: 'mfa-disabled', locale: 'en', data: { name: 'Hanako' } });
    } finally {
      await database.close();
    }
  }
});
