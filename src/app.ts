import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';
import { Redis } from 'ioredis';
import type Provider from 'oidc-provider';
import type { Adapter } from 'oidc-provider';
import type { Config } from './config/schema.js';
import { openDatabase, type DatabaseHandle, type Db } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { Courier } from './courier/courier.js';
import { fileSmsTransport, fileTransport, smtpTransport, twilioSmsTransport } from './courier/transports.js';
import { sweepExpiredFlows } from './flows/flow.js';
import { forgotEmailRoutes } from './flows/forgot-email/routes.js';
import { helpRoutes } from './flows/help/routes.js';
import { recoveryRoutes } from './flows/recovery/routes.js';
import { registrationRoutes } from './flows/registration/routes.js';
import { settingsRoutes } from './flows/settings/routes.js';
import { DuoGateway, type DuoClientFactory } from './identity/factors/duo.js';
import { sweepRememberedBrowsers } from './identity/factors/remembered-browsers.js';
import { FreeMailDomains } from './identity/accounts/free-mail.js';
import { loadCommonPasswords } from './identity/password/common-passwords.js';
import { PasswordPolicy } from './identity/password/policy.js';
import { CodeHasher } from './security/codes.js';
import { errorHandler } from './http/error-handler.js';
import { initI18n } from './http/i18n.js';
import { rememberLanguage, secureCookieContext, securityHeaders, staticFiles } from './http/middleware.js';
import { secureCookies } from './http/page.js';
import { Views } from './http/render.js';
import { PasswordHasher } from './identity/password/hashing.js';
import { interactionRoutes } from './interactions/routes.js';
import { createLogger, type Logger } from './logger.js';
import { KyselyAdapter, sweepExpired } from './oidc/adapters/kysely-adapter.js';
import { RedisAdapter } from './oidc/adapters/redis-adapter.js';
import { GrantIndexingAdapter, SessionIndexingAdapter } from './oidc/adapters/indexing-adapter.js';
import { AccountRevoker, sweepAccountIndexes } from './oidc/revocation.js';
import { ClientAdapter } from './oidc/clients/repository.js';
import { ensureServerKeys, loadCookieKeys, loadSigningJwks } from './oidc/keys.js';
import { createProvider } from './oidc/provider.js';
import { loadMasterSecret } from './security/master-secret.js';
import { LoginThrottle } from './security/rate-limit/login-throttle.js';
import { SecondFactorThrottle } from './security/rate-limit/second-factor-throttle.js';
import { createLimiter, type LimiterStore } from './security/rate-limit/limiters.js';
import { sweepRateLimits } from './security/rate-limit/kysely-store.js';
import { SecretBox } from './security/secret-box.js';

/** The project root, where views/ and public/ live: src/.. from source, dist/src/../.. when built. */
function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}
export const PROJECT_ROOT = projectRoot();

/** Where the embedded default leaves messages for a local user to read: <dataDir>/mail, /sms. */
function spoolDir(config: Readonly<Config>, kind: 'mail' | 'sms'): string {
  return config.dataDir === 'memory://' ? path.join(tmpdir(), `monban-${kind}`, kind) : path.resolve(config.dataDir, kind);
}

const SWEEP_INTERVAL_MS = 10 * 60 * 1000;

export interface Services {
  config: Readonly<Config>;
  logger: Logger;
  database: DatabaseHandle;
  db: Db;
  redis?: Redis;
  box: SecretBox;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  codes: CodeHasher;
  /** Keys the certification hash shown on the security page. */
  certificationKey: Buffer;
  /** Keys the HMACs of MFA recovery codes. */
  recoveryKey: Buffer;
}

export interface App extends Services {
  provider: Provider;
  courier: Courier;
  /** Ends an account's sessions and tokens. */
  revoker: AccountRevoker;
  /** Where rate-limit counters live (Redis or the database). */
  limiterStore: LimiterStore;
  /** Starts listening; resolves with the bound port. */
  listen(port?: number): Promise<number>;
  /** Stops accepting requests, lets running ones finish, then closes the connections. */
  stop(): Promise<void>;
}

/** What both the server and the admin CLI need: config, database (migrated), Redis, crypto. */
export async function openServices(config: Readonly<Config>, logger = createLogger(config.logLevel)): Promise<Services> {
  const master = loadMasterSecret({ secret: config.secret, dataDir: config.dataDir });
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    await migrateToLatest(database.db);
  } catch (err) {
    await database.close();
    throw err;
  }
  const redis = config.redisUrl ? new Redis(config.redisUrl, { maxRetriesPerRequest: 3 }) : undefined;
  const hasher = new PasswordHasher(master.derive('password-pepper'), config.bcryptCost);
  const { minLength, maxLength } = config.passwordPolicy;
  return {
    config,
    logger,
    database,
    db: database.db,
    ...(redis ? { redis } : {}),
    box: new SecretBox(master.derive('seal')),
    hasher,
    policy: new PasswordPolicy(config.passwordPolicy, loadCommonPasswords(minLength, maxLength), hasher),
    codes: new CodeHasher(master.derive('code-hmac')),
    certificationKey: master.derive('certification'),
    recoveryKey: master.derive('recovery-codes'),
  };
}

export async function closeServices(services: Services): Promise<void> {
  await services.redis?.quit().catch(() => services.redis?.disconnect());
  await services.database.close();
}

function adapterFactory(services: Services): (model: string) => Adapter {
  const clients = new ClientAdapter(services.db, services.box);
  const cache = new Map<string, Adapter>();
  return (model) => {
    if (model === 'Client') return clients;
    let adapter = cache.get(model);
    if (!adapter) {
      adapter = services.redis
        ? new RedisAdapter(services.redis, model, services.config.redisKeyPrefix)
        : new KyselyAdapter(services.db, model);
      if (model === 'Session') adapter = new SessionIndexingAdapter(adapter, services.db);
      if (model === 'Grant') adapter = new GrantIndexingAdapter(adapter, services.db);
      cache.set(model, adapter);
    }
    return adapter;
  };
}

export interface AppOptions {
  logger?: Logger;
  /** Builds Duo's client; tests point it at a fake Duo on loopback. */
  duoClient?: DuoClientFactory;
}

export async function createApp(config: Readonly<Config>, options: AppOptions = {}): Promise<App> {
  const { logger } = options;
  const services = await openServices(config, logger);
  const { db, box } = services;
  await ensureServerKeys(db, box);
  const [jwks, cookieKeys] = await Promise.all([loadSigningJwks(db, box), loadCookieKeys(db, box)]);

  const viewsDir = path.join(PROJECT_ROOT, 'views');
  await initI18n(viewsDir);
  const views = new Views(viewsDir);
  const pageDeps = { config, views };

  const adapters = adapterFactory(services);
  const provider = createProvider({ ...pageDeps, db, adapter: adapters, jwks, cookieKeys });
  const revoker = new AccountRevoker(db, adapters);
  const limiterStore: LimiterStore = services.redis
    ? { kind: 'redis', redis: services.redis, prefix: config.redisKeyPrefix }
    : { kind: 'db', db };
  const throttle = new LoginThrottle(limiterStore, config.rateLimits);
  const secondFactorThrottle = new SecondFactorThrottle(limiterStore, config.mfa);
  const duo = new DuoGateway(config.mfa.duo, options.duoClient);

  const secure = secureCookies(config);
  const health = new Router().get('/healthz', async (ctx) => {
    await db.selectNoFrom((eb) => eb.val(1).as('ok')).execute();
    if (services.redis) await services.redis.ping();
    ctx.body = { status: 'ok' };
  });
  const courier = new Courier({
    db, box, views, logger: services.logger,
    transport: config.mail.smtpUrl
      ? smtpTransport(config.mail.smtpUrl)
      : fileTransport(spoolDir(config, 'mail'), services.logger),
    from: config.mail.from,
    smsTransport: config.sms.baseUrl
      ? twilioSmsTransport({ baseUrl: config.sms.baseUrl, accountSid: config.sms.accountSid!, authToken: config.sms.authToken! })
      : fileSmsTransport(spoolDir(config, 'sms'), services.logger),
    smsFrom: config.sms.from,
    issuer: config.issuer,
    supportEmail: config.support.email,
    ...config.courier,
  });
  // What every flow's routes share: pages, services, the provider, and a nudge to the courier.
  const shared = { ...pageDeps, ...services, provider, mailQueued: () => courier.kick() };
  const registration = registrationRoutes({
    ...shared,
    freeMail: new FreeMailDomains(config.registration.freeMailDomainsFile, config.registration.extraFreeMailDomains, PROJECT_ROOT),
    perIp: createLimiter(limiterStore, 'signup:ip', config.registration.perIp),
    resendPerAddress: createLimiter(limiterStore, 'signup:mail', config.registration.resendPerAddress),
  });
  const settings = settingsRoutes({
    ...shared, throttle, secondFactorThrottle, duo, revoker,
    smsPerAccount: createLimiter(limiterStore, 'sms:account', config.account.smsPerAccount),
  });
  const interactions = interactionRoutes({
    ...shared, throttle, secondFactorThrottle, duo,
  });
  const recovery = recoveryRoutes({
    ...shared, duo, revoker, secondFactorThrottle,
    perIp: createLimiter(limiterStore, 'recovery:ip', config.recovery.perIp),
    perAddress: createLimiter(limiterStore, 'recovery:mail', config.recovery.perAddress),
  });
  const forgotEmail = forgotEmailRoutes({
    ...shared,
    perIp: createLimiter(limiterStore, 'forgot-email:ip', config.forgotEmail.perIp),
    perIdentifier: createLimiter(limiterStore, 'forgot-email:id', config.forgotEmail.perIdentifier),
  });
  const help = helpRoutes(pageDeps);

  provider.use(errorHandler({ ...pageDeps, logger: services.logger }));
  provider.use(securityHeaders(secure));
  provider.use(secureCookieContext(secure));
  provider.use(staticFiles(path.join(PROJECT_ROOT, 'public')));
  provider.use(rememberLanguage(secure));
  provider.use(health.routes());
  provider.use(help.routes());
  provider.use(interactions.routes());
  provider.use(registration.routes());
  provider.use(recovery.routes());
  provider.use(forgotEmail.routes());
  provider.use(settings.routes());
  provider.on('server_error', (_ctx, err) => services.logger.error({ err }, 'oidc-provider server error'));

  // Expired rows in PostgreSQL are invisible at once; this only reclaims the space.
  const sweeper = setInterval(() => {
    Promise.all([sweepExpired(db), sweepRateLimits(db), sweepExpiredFlows(db), sweepAccountIndexes(db), sweepRememberedBrowsers(db)])
      .catch((err: unknown) => services.logger.warn({ err }, 'sweeping expired rows failed'));
  }, SWEEP_INTERVAL_MS);
  sweeper.unref();
  courier.start();

  let server: Server | undefined;
  return {
    ...services,
    provider,
    revoker,
    limiterStore,
    listen(port = config.port) {
      server = createServer(provider.callback());
      server.keepAliveTimeout = 5000;
      return new Promise((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, () => resolve((server!.address() as AddressInfo).port));
      });
    },
    courier,
    async stop() {
      clearInterval(sweeper);
      if (server) {
        await new Promise<void>((resolve) => {
          server!.close(() => resolve());
          server!.closeIdleConnections();
        });
      }
      await courier.stop();
      await closeServices(services);
    },
  };
}
