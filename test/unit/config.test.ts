import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';

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

  it('applies the NODE_ENV file', () => {
    expect(load({ NODE_ENV: 'test' }).bcryptCost).toBe(4);
  });

  it('is frozen, nested objects too', () => {
    const config = load({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.ttl)).toBe(true);
    expect(() => { (config as { port: number }).port = 1; }).toThrow(TypeError);
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT: expected a whole number/],
    [{ PORT: '70000' }, /port:/],
    [{ ISSUER: 'ftp://id.example.com' }, /issuer:/],
    [{ ISSUER: 'https://id.example.com/' }, /issuer: must not end with a slash/],
    [{ DATABASE_URL: 'mysql://db/monban', MONBAN_SECRET: 'x'.repeat(44) }, /databaseUrl:/],
    [{ BCRYPT_COST: '3' }, /bcryptCost:/],
    [{ TRUST_PROXY: 'maybe' }, /TRUST_PROXY: expected true or false/],
    [{ LOG_LEVEL: 'loud' }, /logLevel:/],
    [{ MONBAN_SECRET: 'short' }, /secret: must be at least 32 random bytes/],
  ])('refuses %j naming the setting', (env, message) => {
    expect(() => load(env)).toThrow(ConfigError);
    expect(() => load(env)).toThrow(message);
  });

  it('demands a master secret when the database is a shared server', () => {
    expect(() => load({ DATABASE_URL: 'postgres://127.0.0.1/monban' }))
      .toThrow(/secret: MONBAN_SECRET is required when DATABASE_URL is set/);
    expect(load({ DATABASE_URL: 'postgres://127.0.0.1/monban', MONBAN_SECRET: Buffer.alloc(32, 1).toString('base64') }).databaseUrl)
      .toBe('postgres://127.0.0.1/monban');
  });

  it('refuses settings it does not know, so typos do not pass silently', () => {
    expect(() => load({}, { bcryptCots: 12 })).toThrow(/Unrecognized key/);
  });
});
