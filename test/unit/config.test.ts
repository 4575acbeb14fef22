import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { envNameFor } from '../../src/config/env.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { developmentDefaultWarnings, maskSecrets } from '../../src/config/report.js';
import { defaultWorkerCount } from '../../src/config/worker-memory.js';

const configDir = path.resolve('config');
const load = (env: Record<string, string>, overrides?: Record<string, unknown>) =>
  loadConfig({ configDir, env, ...(overrides ? { overrides } : {}) });

describe('configuration', () => {
  it('starts with safe defaults and derives the issuer from the port', () => {
    const config = load({ PORT: '4100' });
    expect(config.port).toBe(4100);
    expect(config.issuer).toBe('http://localhost:4100');
    expect(config.bcryptCost).toBe(11);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.dataDir).toBe('./data');
  });

  it('reads the environment over the files', () => {
    const config = load({
      ISSUER: 'https://id.example.com',
      REDIS_URL: 'redis://127.0.0.1:6379',
      BCRYPT_COST: '12',
      TRUST_PROXY: 'true',
    });
    expect(config.issuer).toBe('https://id.example.com');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(config.bcryptCost).toBe(12);
    expect(config.trustProxy).toBe(true);
  });

  it('refuses a default language that is not offered, and a language listed twice', () => {
    expect(() => load({ MONBAN_LOCALES__SUPPORTED: 'en' })).toThrow(/locales\.default.*not one of locales\.supported/);
    expect(() => load({ MONBAN_LOCALES__SUPPORTED: 'ja,ja' })).toThrow(/locales\.supported.*twice/);
    expect(load({ MONBAN_LOCALES__SUPPORTED: 'ja' }).locales).toEqual({ supported: ['ja'], default: 'ja' });
  });

  it('refuses a send ceiling for an address below the per-browser allowance', () => {
    expect(() => load({ MONBAN_RECOVERY__PER_ADDRESS_CEILING__POINTS: '4' })).toThrow(
      /recovery\.perAddressCeiling.*at least as many codes as recovery\.perAddress/,
    );
    expect(load({ MONBAN_RECOVERY__PER_ADDRESS_CEILING__POINTS: '5' }).recovery.perAddressCeiling.points).toBe(5);
  });

  it('reads TRUST_PROXY as a switch, a number of hops or a list of proxies', () => {
    expect(load({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
    expect(load({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(load({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.10' }).trustProxy).toEqual(['10.0.0.0/8', '192.168.1.10']);
    expect(() => load({ TRUST_PROXY: '10.0.0.0/8,not-an-address' })).toThrow(/trustProxy/);
  });

  it('applies the NODE_ENV file', () => {
    expect(load({ NODE_ENV: 'test' }).bcryptCost).toBe(4);
  });

  it('is frozen, nested objects too', () => {
    const config = load({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.ttl)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT: expected a whole number/],
    [{ PORT: '70000' }, /port:/],
    [{ ISSUER: 'ftp://id.example.com' }, /issuer:/],
    [{ ISSUER: 'https://id.example.com/' }, /issuer: must not end with a slash/],
    [{ DATABASE_URL: 'mysql://db/monban', MONBAN_SECRET: 'x'.repeat(44) }, /databaseUrl:/],
    [{ BCRYPT_COST: '3' }, /bcryptCost:/],
    [{ TRUST_PROXY: 'maybe' }, /trustProxy: must be IP addresses or CIDR ranges/],
    [{ LOG_LEVEL: 'loud' }, /logLevel:/],
    [{ MONBAN_SECRET: 'short' }, /secret: must be at least 32 random bytes/],
  ])('refuses %j naming the setting', (env, message) => {
    expect(() => load(env)).toThrow(ConfigError);
    expect(() => load(env)).toThrow(message);
  });

  it('runs one worker per core (as memory allows) in production on PostgreSQL, and one otherwise (WEB_CONCURRENCY)', () => {
    const server = { DATABASE_URL: 'postgres://127.0.0.1/monban', MONBAN_SECRET: 'x'.repeat(44) };
    expect(load({ ...server, NODE_ENV: 'production' }).webConcurrency).toBe(defaultWorkerCount());
    expect(load(server).webConcurrency).toBe(1);
    expect(load({ NODE_ENV: 'production' }).webConcurrency).toBe(1);
    expect(load({ ...server, NODE_ENV: 'production', WEB_CONCURRENCY: '3' }).webConcurrency).toBe(3);
    expect(load({ ...server, DATABASE_POOL_SIZE: '4' }).databasePoolSize).toBe(4);
    expect(load(server).databasePreparedStatements).toBe(true);
    expect(load({ ...server, DATABASE_PREPARED_STATEMENTS: 'false' }).databasePreparedStatements).toBe(false);
    expect(() => load({ WEB_CONCURRENCY: '2' })).toThrow(/WEB_CONCURRENCY above 1 needs DATABASE_URL/);
    expect(() => load({ ...server, WEB_CONCURRENCY: '0' })).toThrow(/webConcurrency:/);
  });

  it('reads a Redis Cluster from REDIS_CLUSTER_NODES or a redis+cluster:// URL, and refuses a tagged key prefix', () => {
    expect(load({ REDIS_CLUSTER_NODES: '10.0.0.1:6379, 10.0.0.2:6379' }).redisClusterNodes).toEqual([
      '10.0.0.1:6379',
      '10.0.0.2:6379',
    ]);
    expect(load({ REDIS_URL: 'rediss+cluster://10.0.0.1:6379' }).redisUrl).toBe('rediss+cluster://10.0.0.1:6379');
    expect(() => load({}, { redisKeyPrefix: '{monban}:' })).toThrow(/redisKeyPrefix: must not contain \{ or \}/);
  });

  it('demands a master secret when the database is a shared server', () => {
    expect(() => load({ DATABASE_URL: 'postgres://127.0.0.1/monban' })).toThrow(
      /secret: MONBAN_SECRET is required when DATABASE_URL is set/,
    );
    expect(
      load({ DATABASE_URL: 'postgres://127.0.0.1/monban', MONBAN_SECRET: Buffer.alloc(32, 1).toString('base64') })
        .databaseUrl,
    ).toBe('postgres://127.0.0.1/monban');
  });

  it('refuses settings it does not know, so typos do not pass silently', () => {
    expect(() => load({}, { bcryptCots: 12 })).toThrow(/Unrecognized key/);
  });

  describe('from the environment: MONBAN_ + the setting path, nested keys joined by __', () => {
    it('names every setting by one rule', () => {
      expect(envNameFor('passwordPolicy.minLength')).toBe('MONBAN_PASSWORD_POLICY__MIN_LENGTH');
      expect(envNameFor('mfa.duo.apiHost')).toBe('MONBAN_MFA__DUO__API_HOST');
    });

    it('reads numbers, booleans, lists and objects as the setting expects', () => {
      const config = load({
        MONBAN_PASSWORD_POLICY__MIN_LENGTH: '14',
        MONBAN_PASSWORD_POLICY__REJECT_COMMON: 'false',
        MONBAN_REGISTRATION__EXTRA_FREE_MAIL_DOMAINS: 'mail.example, free.example',
        MONBAN_RATE_LIMITS__LOGIN_PER_IP: '{"points":100,"durationSeconds":60}',
        MONBAN_LOCALES__SUPPORTED: '["en"]',
        MONBAN_LOCALES__DEFAULT: 'en',
        MONBAN_REDIS_KEY_PREFIX: 'tenant-a:',
        MONBAN_SHUTDOWN__DELAY_SECONDS: '5',
      });
      expect(config.passwordPolicy.minLength).toBe(14);
      expect(config.passwordPolicy.rejectCommon).toBe(false);
      expect(config.registration.extraFreeMailDomains).toEqual(['mail.example', 'free.example']);
      expect(config.rateLimits.loginPerIp).toEqual({ points: 100, durationSeconds: 60 });
      expect(config.locales.supported).toEqual(['en']);
      expect(config.redisKeyPrefix).toBe('tenant-a:');
      expect(config.shutdown.delaySeconds).toBe(5);
    });

    it('reads the tracing block (off by default; a fractional sample ratio)', () => {
      expect(load({}).tracing).toEqual({ enabled: false, sampleRatio: 1 });
      const config = load({
        MONBAN_TRACING__ENABLED: 'true',
        MONBAN_TRACING__ENDPOINT: 'http://collector:4318',
        MONBAN_TRACING__SERVICE_NAME: 'monban-eu',
        MONBAN_TRACING__SAMPLE_RATIO: '0.25',
      });
      expect(config.tracing).toEqual({
        enabled: true,
        endpoint: 'http://collector:4318',
        serviceName: 'monban-eu',
        sampleRatio: 0.25,
      });
      expect(() => load({ MONBAN_TRACING__SAMPLE_RATIO: '2' })).toThrow(/tracing\.sampleRatio/);
    });

    it('keeps the short names, and the MONBAN_ form wins where both are set', () => {
      expect(load({ BCRYPT_COST: '12' }).bcryptCost).toBe(12);
      expect(load({ BCRYPT_COST: '12', MONBAN_BCRYPT_COST: '13' }).bcryptCost).toBe(13);
      expect(load({ MIGRATE_ON_START: 'false' }).migrateOnStart).toBe(false);
    });

    it.each([
      [{ MONBAN_PASSWORD_POLICY__MIN_LENGHT: '14' }, /MONBAN_PASSWORD_POLICY__MIN_LENGHT: no such setting/],
      [{ MONBAN_PASSWORD_POLICY__MIN_LENGTH: 'twelve' }, /MONBAN_PASSWORD_POLICY__MIN_LENGTH: expected a whole number/],
      [{ MONBAN_RATE_LIMITS__LOGIN_PER_IP: '{points:1' }, /LOGIN_PER_IP: expected an object as JSON/],
      [{ MONBAN_PASSWORD_POLICY__MIN_LENGTH: '4' }, /passwordPolicy.minLength/],
    ])('refuses %j naming the variable or setting', (env, message) => {
      expect(() => load(env)).toThrow(ConfigError);
      expect(() => load(env)).toThrow(message);
    });

    it('ignores MONBAN_TEST_ switches, which are not settings', () => {
      expect(() => load({ MONBAN_TEST_EMBEDDED: '1' })).not.toThrow();
    });
  });

  it('reads the config folder from CONFIG_DIR, else from the install (not the working directory)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'monban-config-'));
    writeFileSync(
      path.join(dir, 'default.json'),
      JSON.stringify({ ...loadConfig({ env: {} }), issuer: null, port: 4321 }),
    );
    expect(loadConfig({ env: { CONFIG_DIR: dir } }).port).toBe(4321);
    const cwd = process.cwd();
    try {
      process.chdir(tmpdir());
      expect(loadConfig({ env: {} }).port).toBe(3000);
    } finally {
      process.chdir(cwd);
    }
  });

  it('warns when production runs on development defaults', () => {
    const production = { NODE_ENV: 'production' };
    const warnings = developmentDefaultWarnings(load({}), production);
    expect(warnings.join('\n')).toMatch(/https issuer/);
    expect(warnings.join('\n')).toMatch(/embedded database/);
    expect(warnings.join('\n')).toMatch(/support@example.com/);
    expect(developmentDefaultWarnings(load({}), {})).toEqual([]);
    const ready = load({
      ISSUER: 'https://id.example.com',
      DATABASE_URL: 'postgres://db/monban',
      MONBAN_SECRET: Buffer.alloc(32, 1).toString('base64'),
      SUPPORT_EMAIL: 'help@example.co.jp',
      SMTP_URL: 'smtp://mail.example.co.jp',
      MAIL_FROM: 'ID <id@example.co.jp>',
      SMS_BASE_URL: 'https://sms.example.co.jp',
      SMS_ACCOUNT_SID: 'AC1',
      SMS_AUTH_TOKEN: 't',
    });
    expect(developmentDefaultWarnings(ready, production)).toEqual([]);
  });

  it('masks secrets, tokens and passwords in URLs when printed', () => {
    const secret = Buffer.alloc(32, 1).toString('base64');
    const printed = JSON.stringify(
      maskSecrets(
        load({
          DATABASE_URL: 'postgres://monban:pg-pass@db/monban',
          REDIS_URL: 'redis://:redis-pass@cache:6379',
          MONBAN_SECRET: secret,
          SMS_BASE_URL: 'https://sms.example',
          SMS_ACCOUNT_SID: 'AC1',
          SMS_AUTH_TOKEN: 'sms-token',
        }),
      ),
    );
    for (const hidden of ['pg-pass', 'redis-pass', secret, 'sms-token']) expect(printed).not.toContain(hidden);
    expect(printed).toContain('postgres://monban:********@db/monban');
  });
});
