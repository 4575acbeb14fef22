import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import path from 'node:path';
import type { Middleware } from 'koa';
import compose from 'koa-compose';
import type Provider from 'oidc-provider';
import type { Adapter } from 'oidc-provider';
import type { Config } from './config/schema.js';
import { openDatabase, type DatabaseHandle, type Db } from './db/database.js';
import { migrateToLatest, pendingMigrations, SchemaBehindError } from './db/migrate.js';
import { Courier } from './courier/courier.js';
import { fileSmsTransport, fileTransport, smtpTransport, twilioSmsTransport } from './courier/transports.js';
import { sweepExpiredFlows } from './flows/kernel/store.js';
import { phoneVerificationRoutes } from './flows/phone-verification/routes.js';
import { forgotEmailRoutes } from './flows/forgot-email/routes.js';
import { helpRoutes } from './flows/help/routes.js';
import { recoveryRoutes } from './flows/recovery/routes.js';
import { registrationRoutes } from './flows/registration/routes.js';
import { settingsRoutes } from './flows/settings/routes.js';
import { companyRoutes } from './flows/company/routes.js';
import { unlockRoutes } from './flows/unlock/routes.js';
import { devicePages } from './flows/device/pages.js';
import { DeviceFlowGuard, guardDeviceFlow } from './flows/device/service.js';
import { DuoGateway, type DuoClientFactory } from './identity/factors/duo.js';
import { DuoHandshake } from './identity/factors/duo-handshake.js';
import { PasskeyChallenges } from './identity/passkeys/challenges.js';
import type { PasskeyDeps } from './identity/passkeys/webauthn.js';
import { sweepRememberedBrowsers } from './identity/factors/remembered-browsers.js';
import { FreeMailDomains } from './identity/accounts/free-mail.js';
import { loadCommonPasswords } from './identity/password/common-passwords.js';
import { PasswordPolicy } from './identity/password/policy.js';
import { CodeHasher } from './security/codes.js';
import { rootCookieName } from './http/cookie-names.js';
import { errorHandler } from './http/error-handler.js';
import { metricsListener, metricsRoute } from './http/metrics-route.js';
import { probeRoutes } from './http/probes.js';
import { requestTracking } from './http/request-tracking.js';
import { routesBySegment } from './http/routes-by-segment.js';
import { oidcEvents, setScrapeSources } from './observability/metrics.js';
import { outboxState } from './courier/outbox.js';
import { initI18n } from './text/i18n.js';
import { installClientAddress } from './http/client-address.js';
import { pinOriginToIssuer } from './http/issuer-origin.js';
import { brandingFiles, logoSources } from './http/branding.js';
import {
  laxCookiesOnPlainHttp,
  packageFile,
  rememberLanguage,
  securityHeaders,
  skipFor,
  staticFiles,
} from './http/middleware.js';
import { secureCookies } from './http/page.js';
import { Views } from './text/views.js';
import { RecentAccounts } from './identity/accounts/recent.js';
import { PasswordHasher } from './identity/password/hashing.js';
import { providerPages } from './interactions/provider-pages.js';
import { emailStepAtAuthorization } from './interactions/email-step.js';
import { interactionRoutes } from './interactions/routes.js';
import { createLogger, type Logger } from './logger.js';
import { PROJECT_ROOT } from './paths.js';
import { KyselyAdapter, sweepExpired } from './oidc/adapters/kysely-adapter.js';
import { DirectModelWriter, GroupCommitModelWriter, type ModelWriter } from './oidc/adapters/model-writes.js';
import { holdGiveBackOn, RedisAdapter } from './oidc/adapters/redis-adapter.js';
import { GrantIndexingAdapter, SessionIndexingAdapter } from './oidc/adapters/indexing-adapter.js';
import { holdWritesUntilAnswered, settleWrites } from './oidc/adapters/pipelined-writes.js';
import { confirmedLogoutEndsSession } from './oidc/confirmed-logout.js';
import { RecentlyUsable } from './oidc/adapters/recently-usable.js';
import { CodeThrottle } from './security/rate-limit/code-throttle.js';
import { sessionLifetime, trustMilliseconds } from './oidc/session-lifetime.js';
import { AccountRevoker, sweepAccountIndexes } from './oidc/revocation.js';
import { ClientAdapter } from './oidc/clients/repository.js';
import { keepBuiltClients } from './oidc/clients/built-clients.js';
import { ensureServerKeys, legacySealingSecretId, loadCookieKeys, loadSigningJwks } from './oidc/keys.js';
import { cachedMetadata } from './oidc/metadata-cache.js';
import { createProvider, PROVIDER_API_PATHS } from './oidc/provider.js';
import { logoutNoticeSender } from './oidc/backchannel-logout.js';
import { accessTokenVerifier } from './oidc/access-tokens.js';
import { adminResource, builtInResourceServers, registeredResourceServers } from './oidc/resource-servers.js';
import { adminApi } from './admin/api/router.js';
import { bootstrapAdminClient } from './admin/bootstrap.js';
import { adminOperations } from './admin/api/operations.js';
import { DomainVerifier, recheckDomains } from './identity/companies/verification.js';
import { sweepIdempotencyKeys } from './admin/api/idempotency.js';
import { DatabaseChangeFeed, type ChangeFeed } from './events/change-feed.js';
import { isOutage } from './errors.js';
import { StorageCounters } from './observability/storage-counters.js';
import { connectRedis, type RedisClient } from './redis/client.js';
import { countRedisCommands } from './redis/counting.js';
import { loadKeyring, type KeyList } from './security/master-secret.js';
import { loadDerivedKeys } from './security/derived-keys.js';
import { attemptCounters } from './security/rate-limit/attempt-counters.js';
import { SendCap } from './security/rate-limit/send-cap.js';
import { SmsCaps } from './security/rate-limit/sms-caps.js';
import { CredentialThrottle } from './security/rate-limit/credential-throttle.js';
import { SecondFactorThrottle } from './security/rate-limit/second-factor-throttle.js';
import { createLimiter, type LimiterStore } from './security/rate-limit/limiters.js';
import type { SessionRevoker } from './identity/accounts/access.js';
import { addressChanger, type EmailChangeDeps } from './identity/companies/email-change.js';
import { RenameWorker } from './identity/companies/renames.js';
import { sweepRateLimits } from './security/rate-limit/kysely-store.js';
import { SecretBox } from './security/secret-box.js';
import { DeviceTrust } from './security/device-trust.js';
import { HttpServer, type DrainOptions } from './server/http-server.js';

export { PROJECT_ROOT };

/** Where the embedded default leaves messages for a local user to read: <dataDir>/mail, /sms. */
function spoolDir(config: Readonly<Config>, kind: 'mail' | 'sms'): string {
  return config.dataDir === 'memory://'
    ? path.join(tmpdir(), `monban-${kind}`, kind)
    : path.resolve(config.dataDir, kind);
}

/** oidc-provider's events worth counting (and logging at debug): grants, tokens, interactions. */
const OIDC_EVENTS = [
  'grant.success',
  'grant.error',
  'grant.revoked',
  'access_token.issued',
  'access_token.destroyed',
  'client_credentials.issued',
  'refresh_token.consumed',
  'refresh_token.destroyed',
  'authorization_code.consumed',
  'interaction.started',
  'interaction.ended',
  'end_session.success',
  'revocation.error',
  'introspection.error',
] as const;

const SWEEP_INTERVAL_MS = 10 * 60 * 1000;

export interface Services {
  config: Readonly<Config>;
  logger: Logger;
  database: DatabaseHandle;
  db: Db;
  /** A Redis server or Redis Cluster (REDIS_URL, REDIS_CLUSTER_NODES). */
  redis?: RedisClient;
  /** Statements and commands sent to PostgreSQL and Redis, counted as they leave. */
  counters: StorageCounters;
  /** Tells every process what changed (clients), so that caches drop it. */
  changes: ChangeFeed;
  box: SecretBox;
  /** The ids of MONBAN_SECRET's secrets, current first (what sealed values and hashes name). */
  secretIds: string[];
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  codes: CodeHasher;
  /** Keys the certification hash shown on the security page. */
  certificationKey: Buffer;
  /** Keys the HMACs of MFA recovery codes. */
  recoveryKey: KeyList;
  /** Keys the user handles given to authenticators with a passkey. */
  passkeyUserKey: Buffer;
  /** Salts the pairwise subject identifiers of clients registered with subject_type pairwise. */
  pairwiseKey: Buffer;
  /** Tags the accounts a browser logged in to in its device cookie. */
  deviceTrust: DeviceTrust;
}

export interface App extends Services {
  provider: Provider;
  courier: Courier;
  /** Works through company bulk renames in this process. */
  renames: RenameWorker;
  /** Ends an account's sessions and tokens. */
  revoker: AccountRevoker;
  /** Where rate-limit counters live (Redis or the database). */
  limiterStore: LimiterStore;
  /** The counters in front of every password check (unlocking an account clears its own). */
  credentialThrottle: CredentialThrottle;
  /** What passkey ceremonies need (challenges in the interactions' storage). */
  passkeys: PasskeyDeps;
  /** The counters in front of every passkey sign-in without a password. */
  passkeyThrottle: SecondFactorThrottle;
  /** The daily cap on wrong one-time codes per account. */
  codeThrottle: CodeThrottle;
  /** The DNS lookups that prove company domains. */
  domainVerifier: DomainVerifier;
  /** Starts listening; resolves with the bound port. */
  listen(port?: number): Promise<number>;
  /** True from the moment stop() begins: readiness answers 503. */
  readonly draining: boolean;
  /**
   * Drains (see HttpServer.drain: readiness 503, shutdown.delaySeconds of service, then up to
   * shutdown.graceSeconds for running requests), then stops the courier and closes PostgreSQL and
   * Redis. Options override the configured times.
   */
  stop(options?: Partial<DrainOptions>): Promise<void>;
}

/** What both the server and the admin CLI need: config, database (migrated), Redis, crypto. */
export async function openServices(
  config: Readonly<Config>,
  logger = createLogger(config.logLevel),
  memoryDump?: Blob,
): Promise<Services> {
  const keyring = loadKeyring({ secret: config.secret, dataDir: config.dataDir });
  const box = new SecretBox(keyring.derive('seal'));
  const counters = new StorageCounters();
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.databasePoolSize,
    preparedStatements: config.databasePreparedStatements,
    counters,
    memoryDump,
    logger,
  });
  try {
    if (config.migrateOnStart) await migrateToLatest(database.db);
    else {
      const pending = await pendingMigrations(database.db);
      if (pending.length) throw new SchemaBehindError(pending);
    }
  } catch (err) {
    await database.close();
    throw err;
  }
  let derived;
  try {
    derived = await loadDerivedKeys(database.db, keyring, box, () => legacySealingSecretId(database.db, box));
  } catch (err) {
    await database.close();
    throw err;
  }
  const connected = connectRedis(config);
  const redis = connected ? countRedisCommands(connected, counters) : undefined;
  const hasher = new PasswordHasher(
    derived.list('password-pepper'),
    config.bcryptCost,
    derived.pinned('password-pepper'),
  );
  const { minLength, maxLength } = config.passwordPolicy;
  return {
    config,
    logger,
    database,
    db: database.db,
    ...(redis ? { redis } : {}),
    counters,
    changes: new DatabaseChangeFeed(database),
    box,
    secretIds: keyring.secrets.map((secret) => secret.id),
    hasher,
    policy: new PasswordPolicy(config.passwordPolicy, loadCommonPasswords(minLength, maxLength), hasher),
    codes: new CodeHasher(derived.list('code-hmac')),
    certificationKey: derived.pinned('certification'),
    recoveryKey: derived.list('recovery-codes'),
    passkeyUserKey: derived.pinned('passkey-user-handle'),
    pairwiseKey: derived.pinned('pairwise-subject'),
    deviceTrust: new DeviceTrust(derived.list('device-cookies')),
  };
}

/** Where rate-limit counters live: Redis when there is one, else the database. */
export function limiterStoreOf(services: Services): LimiterStore {
  return services.redis
    ? { kind: 'redis', redis: services.redis, prefix: services.config.redisKeyPrefix }
    : { kind: 'db', db: services.db };
}

/** The counters in front of every password check; also what the admin CLI clears to unlock an account. */
export function credentialThrottleOf(services: Services): CredentialThrottle {
  // A right password's give-back goes with the page's other Redis writes (nothing counts these
  // counters again in the same request).
  const holdGiveBack = services.redis ? holdGiveBackOn(services.redis) : undefined;
  return new CredentialThrottle(
    attemptCounters(limiterStoreOf(services), holdGiveBack && { holdGiveBack }),
    services.config.rateLimits,
  );
}

/** The DNS lookups that prove company domains, against companies.dnsServers. */
export function domainVerifierOf(services: Services): DomainVerifier {
  const { dnsServers, dnsTimeoutMs } = services.config.companies;
  return new DomainVerifier({ servers: dnsServers, timeoutMs: dnsTimeoutMs });
}

/** What an address change by a company admin needs (M3); also what the admin CLI starts one with. */
export function emailChangeOf(services: Services, revoker: SessionRevoker): EmailChangeDeps {
  const store = limiterStoreOf(services);
  return {
    ...services,
    revoker,
    codeThrottle: new CodeThrottle(attemptCounters(store), services.config.codes.attemptsPerAccount),
    sendLimiter: createLimiter(store, 'email-change:send', services.config.companies.emailChangeSends),
  };
}

/** Deletes ended sessions and revoked grants from storage; also what the admin CLI uses after a status change. */
export function accountRevokerOf(services: Services): AccountRevoker {
  // The revoker touches no client, so an uncached client adapter will do; it tells the servers
  // what it ended through the change feed.
  const usable = new RecentlyUsable(trustMilliseconds(sessionLifetime(services.config)));
  const adapters = adapterFactory(services, new ClientAdapter(services.db, services.box), usable);
  return new AccountRevoker(services.db, adapters, { logger: services.logger, usable, changes: services.changes });
}

export async function closeServices(services: Services): Promise<void> {
  await services.changes.close();
  await services.redis?.quit().catch(() => services.redis?.disconnect());
  await services.database.close();
}

const modelWriters = new WeakMap<Db, ModelWriter>();

/** One per database: PGlite has one connection, so upserts issued together share a statement. */
function modelWriterOf(services: Services): ModelWriter {
  let writer = modelWriters.get(services.db);
  if (!writer) {
    writer =
      services.database.kind === 'pglite'
        ? new GroupCommitModelWriter(services.db)
        : new DirectModelWriter(services.db);
    modelWriters.set(services.db, writer);
  }
  return writer;
}

function adapterFactory(
  services: Services,
  clients: ClientAdapter,
  usable: RecentlyUsable,
): (model: string) => Adapter {
  const cache = new Map<string, Adapter>();
  const writer = modelWriterOf(services);
  return (model) => {
    if (model === 'Client') return clients;
    let adapter = cache.get(model);
    if (!adapter) {
      adapter = services.redis
        ? new RedisAdapter(services.redis, model, services.config.redisKeyPrefix)
        : new KyselyAdapter(services.db, model, writer);
      if (model === 'Session')
        adapter = new SessionIndexingAdapter(adapter, services.db, usable, sessionLifetime(services.config));
      if (model === 'Grant') adapter = new GrantIndexingAdapter(adapter, services.db, usable);
      cache.set(model, adapter);
    }
    return adapter;
  };
}

/** The Session adapter, which indexes every session in PostgreSQL (adapterFactory). */
function sessionIndexOf(adapters: (model: string) => Adapter): SessionIndexingAdapter {
  const adapter = adapters('Session');
  if (!(adapter instanceof SessionIndexingAdapter)) throw new Error('the Session adapter does not index sessions');
  return adapter;
}

export interface AppOptions {
  logger?: Logger;
  /** Builds Duo's client; tests point it at a fake Duo on loopback. */
  duoClient?: DuoClientFactory;
  /** With dataDir memory://, the embedded database starts from this dump (see DatabaseOptions). */
  memoryDump?: Blob;
}

export async function createApp(config: Readonly<Config>, options: AppOptions = {}): Promise<App> {
  const { logger, memoryDump } = options;
  const services = await openServices(config, logger, memoryDump);
  services.policy.prepare();
  const { db, box, redis } = services;
  await ensureServerKeys(db, box);
  await bootstrapAdminClient(services);
  const [jwks, cookieKeys] = await Promise.all([loadSigningJwks(db, box), loadCookieKeys(db, box)]);

  const viewsDir = path.join(PROJECT_ROOT, 'views');
  const overrideDir = config.viewsOverrideDir && path.resolve(config.viewsOverrideDir);
  await initI18n(viewsDir, { overrideDir, productName: config.branding.productName });
  const views = new Views(viewsDir, overrideDir);
  const pageDeps = { config, views };

  const clients = new ClientAdapter(db, box, config.clientCacheSeconds * 1000);
  await services.changes.subscribe('clients', (clientId) => clients.invalidate(clientId));
  // Sessions and grants found usable a moment ago; a revocation anywhere makes every process forget them.
  const usable = new RecentlyUsable(trustMilliseconds(sessionLifetime(config)));
  const recentAccounts = new RecentAccounts();
  await services.changes.subscribe('access', (accountId) => {
    usable.forgetAccount(accountId);
    recentAccounts.forget(accountId);
  });
  const adapters = adapterFactory(services, clients, usable);
  const provider = createProvider({
    config,
    db,
    adapter: adapters,
    jwks,
    cookieKeys,
    sessionCookie: rootCookieName(secureCookies(config), 'monban_session'),
    pages: { ...providerPages(pageDeps), ...devicePages(pageDeps) },
    recentAccounts,
    pairwiseKey: services.pairwiseKey,
    resourceServers: builtInResourceServers(config.issuer).withSource(registeredResourceServers(db)),
  });
  keepBuiltClients(provider, clients);
  const domainVerifier = domainVerifierOf(services);
  const revoker = new AccountRevoker(db, adapters, { logger: services.logger, usable, changes: services.changes });
  const limiterStore = limiterStoreOf(services);
  guardDeviceFlow(
    provider,
    new DeviceFlowGuard(attemptCounters(limiterStore), config.deviceFlow),
    config.deviceFlow.pollIntervalSeconds,
  );
  const credentialThrottle = credentialThrottleOf(services);
  const { allowedCountries, caps } = config.sms;
  const smsCaps = new SmsCaps(attemptCounters(limiterStore), { allowedCountries, ...caps }, services.logger);
  const secondFactorThrottle = new SecondFactorThrottle(limiterStore, config.mfa);
  const duo = new DuoHandshake(new DuoGateway(config.mfa.duo, options.duoClient), config.mfa.stepSeconds);
  const passkeyThrottle = new SecondFactorThrottle(limiterStore, config.passkeys, 'passkey');

  const secure = secureCookies(config);
  // Koa composes its middleware when callback() is called: ask for it once everything is used.
  const server = new HttpServer((req, res) => void handle(req, res));
  let schemaCurrent = false;
  const probes = probeRoutes({
    isDraining: () => server.draining,
    checks: {
      database: async () => {
        await db.selectNoFrom((eb) => eb.val(1).as('ok')).execute();
      },
      ...(redis
        ? {
            redis: async () => {
              await redis.ping();
            },
          }
        : {}),
      migrations: async () => {
        // Migrations only go forward: once current, this build's schema stays current.
        if (schemaCurrent) return;
        const pending = await pendingMigrations(db);
        if (pending.length) throw new SchemaBehindError(pending);
        schemaCurrent = true;
      },
    },
    onFailure: (check, err) => services.logger.warn({ check, err }, 'readiness check failed'),
  });
  const courier = new Courier({
    db,
    box,
    views,
    logger: services.logger,
    transport: config.mail.smtpUrl
      ? smtpTransport(config.mail.smtpUrl)
      : fileTransport(spoolDir(config, 'mail'), services.logger),
    from: config.mail.from,
    // The config schema requires the account SID and token along with SMS_BASE_URL.
    smsTransport:
      config.sms.baseUrl && config.sms.accountSid && config.sms.authToken
        ? twilioSmsTransport({
            baseUrl: config.sms.baseUrl,
            accountSid: config.sms.accountSid,
            authToken: config.sms.authToken,
          })
        : fileSmsTransport(spoolDir(config, 'sms'), services.logger),
    smsFrom: config.sms.from,
    logoutNotices: logoutNoticeSender(provider, { timeoutMs: 5000 }),
    issuer: config.issuer,
    supportEmail: config.support.email,
    locales: config.locales,
    branding: config.branding,
    codeInSubject: config.mail.codeInSubject,
    listen: (channel, handler) => services.database.listen(channel, handler),
    ...config.courier,
  });
  // What every flow's routes share: pages, services, the provider, and a nudge to the courier.
  const codeThrottle = new CodeThrottle(attemptCounters(limiterStore), config.codes.attemptsPerAccount);
  const shared = {
    ...pageDeps,
    ...services,
    provider,
    credentialThrottle,
    codeThrottle,
    mailQueued: () => courier.kick(),
  };
  const passkeys: PasskeyDeps = {
    ...shared,
    challenges: new PasskeyChallenges(adapters('PasskeyChallenge'), config.passkeys.challengeSeconds),
  };
  // Invitation links (C4), looked up on the sign-up form and on the logged-in accept page alike.
  const invitationPerIp = createLimiter(limiterStore, 'invitation:ip', config.companies.invitationLookupsPerIp);
  // C2's list of free mail services: partners' addresses at sign-up and in support cases (M2).
  const freeMail = new FreeMailDomains(
    config.registration.freeMailDomainsFile,
    config.registration.extraFreeMailDomains,
    PROJECT_ROOT,
  );
  const registration = registrationRoutes({
    ...shared,
    invitationPerIp,
    freeMail,
    perIp: createLimiter(limiterStore, 'signup:ip', config.registration.perIp),
    resendPerAddress: createLimiter(limiterStore, 'signup:mail', config.registration.resendPerAddress),
  });
  // Address changes by company admins (M3): started on /company and the admin API, ended at login.
  const emailChange = emailChangeOf(services, revoker);
  const consoleDeps = {
    ...shared,
    freeMail,
    clients,
    passkeys,
    secondFactorThrottle,
    duo,
    revoker,
    smsPerAccount: createLimiter(limiterStore, 'sms:account', config.account.smsPerAccount),
    smsCaps,
  };
  const settings = settingsRoutes(consoleDeps);
  // A company's bulk renames (M3, M4): worked here and in every other process, one member at a time.
  const renames = new RenameWorker({
    db,
    listen: (channel, handler) => services.database.listen(channel, handler),
    logger: services.logger,
    addresses: addressChanger(emailChange),
    pollIntervalMs: config.companies.renamePollMs,
    mailQueued: shared.mailQueued,
  });
  const renameQueued = () => renames.kick();
  const company = companyRoutes({ ...consoleDeps, invitationPerIp, domainVerifier, emailChange, renameQueued });
  const phoneVerification = phoneVerificationRoutes(consoleDeps);
  const interactionDeps = {
    ...shared,
    clients,
    recentAccounts,
    secondFactorThrottle,
    duo,
    revoker,
    passkeys,
    passkeyThrottle,
    emailChange,
  };
  const interactions = interactionRoutes(interactionDeps);
  const recovery = recoveryRoutes({
    ...shared,
    duo,
    smsCaps,
    revoker,
    secondFactorThrottle,
    perIp: createLimiter(limiterStore, 'recovery:ip', config.recovery.perIp),
    sendCap: new SendCap(attemptCounters(limiterStore), 'recovery', {
      perBrowser: config.recovery.perAddress,
      ceiling: config.recovery.perAddressCeiling,
    }),
  });
  const forgotEmail = forgotEmailRoutes({
    ...shared,
    perIp: createLimiter(limiterStore, 'forgot-email:ip', config.forgotEmail.perIp),
    perIdentifier: createLimiter(limiterStore, 'forgot-email:id', config.forgotEmail.perIdentifier),
  });
  const help = helpRoutes(pageDeps);
  const unlock = unlockRoutes(shared);

  // Every consumer of ctx.ip (rate limits, audit log, session list) and every URL the app
  // builds see the same request: the client as the trusted proxies tell it, on the issuer's origin.
  installClientAddress(provider, config.trustProxy);
  pinOriginToIssuer(provider, config.issuer);
  provider.use(requestTracking({ logger: services.logger, trustProxy: config.trustProxy }));
  provider.use(settleWrites);
  if (!config.metrics.port) provider.use(metricsRoute(config.metrics));
  // Discovery and the JWKS come from memory.
  provider.use(cachedMetadata());
  // oidc-provider's JSON endpoints (tokens, introspection, userinfo, discovery, JWKS) go straight
  // on to it; everything else passes through this one block first: probes, the admin API (JSON
  // and problem details of its own, outside the page machinery), then the page machinery.
  const pageMiddleware = [
    ...(secure ? [] : [laxCookiesOnPlainHttp()]),
    routesBySegment(probes),
    adminApi({
      services,
      verify: accessTokenVerifier({
        issuer: config.issuer,
        audience: adminResource(config.issuer),
        jwks,
        clientAllowed: (clientId) => clients.isAdmin(clientId),
      }),
      perIp: createLimiter(limiterStore, 'admin-api:ip', config.adminApi.perIp),
      perClient: createLimiter(limiterStore, 'admin-api:client', config.adminApi.perClient),
      operations: adminOperations({ ...shared, revoker, domainVerifier, emailChange, renameQueued }),
    }),
    errorHandler({ ...pageDeps, logger: services.logger }),
    holdWritesUntilAnswered,
    confirmedLogoutEndsSession((sessionId) => sessionIndexOf(adapters).end(sessionId)),
    securityHeaders(secure, logoSources(config.branding)),
    staticFiles(path.join(PROJECT_ROOT, 'public')),
    packageFile(
      '/static/vendor/simplewebauthn-browser.js',
      path.join(PROJECT_ROOT, 'node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js'),
    ),
    brandingFiles(config.branding),
    rememberLanguage(secure, config.locales),
    emailStepAtAuthorization(interactionDeps),
    ...[help, interactions, registration, recovery, forgotEmail, unlock, settings, phoneVerification, company].map(
      routesBySegment,
    ),
  ] as Middleware[];
  provider.use(skipFor(PROVIDER_API_PATHS)(compose(pageMiddleware)));
  // oidc-provider answers its own failures: a page through renderError (which says "try again
  // later" for an outage), else its JSON with 500. An outage is the caller's to retry: 503.
  provider.on('server_error', (ctx, err) => {
    if (!isOutage(err)) {
      services.logger.error({ err }, 'oidc-provider server error');
      return;
    }
    services.logger.warn({ err, path: ctx.path }, 'a store is unreachable: failed closed');
    ctx.status = 503;
  });
  for (const event of OIDC_EVENTS) {
    // One listener for many event names: the typings have an overload per name only.
    (provider.on as (name: string, listener: (...args: unknown[]) => void) => void).call(
      provider,
      event,
      (...args: unknown[]) => {
        oidcEvents.inc({ event });
        // Built only when debug is on: a token request raises three or four of these events.
        if (!services.logger.isLevelEnabled('debug')) return;
        // Models and errors only by kind: tokens and codes never reach the log.
        const last = args.at(-1);
        services.logger.debug(
          { event, detail: last instanceof Error ? last.message : undefined },
          'oidc-provider event',
        );
      },
    );
  }
  setScrapeSources({
    outbox: () => outboxState(db),
    ...(redis ? { redisUp: () => redis.status === 'ready' } : {}),
    database: () => services.database.poolStats(),
  });
  const metricsServer = config.metrics.port ? createServer(metricsListener(config.metrics)) : undefined;
  const handle = provider.callback();

  // Expired rows in PostgreSQL are invisible at once; this only reclaims the space.
  const sweeper = setInterval(() => {
    Promise.all([
      sweepExpired(db),
      sweepRateLimits(db),
      sweepExpiredFlows(db),
      sweepAccountIndexes(db, sessionLifetime(config).idleSeconds),
      sweepRememberedBrowsers(db),
      sweepIdempotencyKeys(db),
      recheckDomains(db, domainVerifier, config.companies.recheckHours),
    ]).catch((err: unknown) => services.logger.warn({ err }, 'sweeping expired rows failed'));
  }, SWEEP_INTERVAL_MS);
  sweeper.unref();
  await courier.start();
  await renames.start();

  return {
    ...services,
    provider,
    revoker,
    limiterStore,
    credentialThrottle,
    passkeys,
    passkeyThrottle,
    codeThrottle,
    domainVerifier,
    async listen(port = config.port) {
      if (metricsServer && !metricsServer.listening)
        await new Promise<void>((resolve, reject) => {
          metricsServer.once('error', reject);
          metricsServer.listen(config.metrics.port, () => resolve());
        });
      return server.listen(port);
    },
    get draining() {
      return server.draining;
    },
    courier,
    renames,
    async stop(options = {}) {
      const { cut } = await server.drain({
        delayMs: options.delayMs ?? config.shutdown.delaySeconds * 1000,
        graceMs: options.graceMs ?? config.shutdown.graceSeconds * 1000,
      });
      if (cut) services.logger.warn({ cut }, 'requests still running at the end of the grace period were cut');
      clearInterval(sweeper);
      if (metricsServer?.listening) {
        metricsServer.closeAllConnections();
        await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      }
      await renames.stop();
      await courier.stop();
      await closeServices(services);
    },
  };
}
