import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { configSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Json = Record<string, unknown>;

/** Environment variables and the setting each one fills. Numbers and booleans are parsed. */
const ENVIRONMENT: Record<string, { key: string; type: 'string' | 'number' | 'boolean' }> = {
  PORT: { key: 'port', type: 'number' },
  ISSUER: { key: 'issuer', type: 'string' },
  TRUST_PROXY: { key: 'trustProxy', type: 'boolean' },
  DATABASE_URL: { key: 'databaseUrl', type: 'string' },
  REDIS_URL: { key: 'redisUrl', type: 'string' },
  DATA_DIR: { key: 'dataDir', type: 'string' },
  MONBAN_SECRET: { key: 'secret', type: 'string' },
  LOG_LEVEL: { key: 'logLevel', type: 'string' },
  BCRYPT_COST: { key: 'bcryptCost', type: 'number' },
  SUPPORT_EMAIL: { key: 'support.email', type: 'string' },
  SMTP_URL: { key: 'mail.smtpUrl', type: 'string' },
  MAIL_FROM: { key: 'mail.from', type: 'string' },
  SMS_BASE_URL: { key: 'sms.baseUrl', type: 'string' },
  SMS_ACCOUNT_SID: { key: 'sms.accountSid', type: 'string' },
  SMS_AUTH_TOKEN: { key: 'sms.authToken', type: 'string' },
  SMS_FROM: { key: 'sms.from', type: 'string' },
  DUO_CLIENT_ID: { key: 'mfa.duo.clientId', type: 'string' },
  DUO_CLIENT_SECRET: { key: 'mfa.duo.clientSecret', type: 'string' },
  DUO_API_HOST: { key: 'mfa.duo.apiHost', type: 'string' },
  MFA_REMEMBER_BROWSER_DAYS: { key: 'mfa.rememberBrowserDays', type: 'number' },
};

function readJson(file: string): Json {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: Json, override: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

function setPath(target: Json, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (!isPlainObject(node[part])) node[part] = {};
    node = node[part] as Json;
  }
  node[parts.at(-1)!] = value;
}

function parseEnvValue(name: string, raw: string, type: 'string' | 'number' | 'boolean'): unknown {
  if (type === 'string') return raw;
  if (type === 'number') {
    if (!/^\d+$/.test(raw)) throw new ConfigError(`${name}: expected a whole number, got "${raw}"`);
    return Number(raw);
  }
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new ConfigError(`${name}: expected true or false, got "${raw}"`);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `  - ${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('\n');
}

export interface LoadOptions {
  /** Folder holding default.json and <NODE_ENV>.json. */
  configDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Programmatic overrides applied last (tests, benchmark). */
  overrides?: Json;
}

/**
 * Reads config/default.json, then config/<NODE_ENV>.json, then the environment, then overrides;
 * validates the result against the schema and freezes it. Any bad value throws a ConfigError
 * that names the setting.
 */
export function loadConfig(options: LoadOptions = {}): Readonly<Config> {
  const env = options.env ?? process.env;
  const configDir = options.configDir ?? path.resolve('config');
  let raw = readJson(path.join(configDir, 'default.json'));
  const envFile = env.NODE_ENV ? path.join(configDir, `${env.NODE_ENV}.json`) : undefined;
  if (envFile && existsSync(envFile)) raw = deepMerge(raw, readJson(envFile));

  for (const [name, { key, type }] of Object.entries(ENVIRONMENT)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(raw, key, parseEnvValue(name, value, type));
  }
  if (options.overrides) raw = deepMerge(raw, options.overrides);
  if (raw.issuer === undefined || raw.issuer === null) raw.issuer = `http://localhost:${String(raw.port)}`;

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration:\n${describeIssues(parsed.error)}`);
  }
  const config = parsed.data;
  if (config.databaseUrl && !config.secret) {
    throw new ConfigError('invalid configuration:\n  - secret: MONBAN_SECRET is required when DATABASE_URL is set');
  }
  return deepFreeze(config);
}
