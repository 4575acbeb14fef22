import type { z } from 'zod';

/**
 * Settings from the environment. One rule reaches every key: `MONBAN_` + the setting's path, each
 * key in UPPER_SNAKE_CASE and nested keys joined by a double underscore:
 *
 *   passwordPolicy.minLength  <-  MONBAN_PASSWORD_POLICY__MIN_LENGTH=14
 *   rateLimits.loginPerIp     <-  MONBAN_RATE_LIMITS__LOGIN_PER_IP='{"points":100,"durationSeconds":900}'
 *
 * Values are read as the setting's type: whole numbers, true/false (also 1/0, yes/no), lists as
 * JSON or comma-separated, objects as JSON. The short names operators already use (PORT, ISSUER,
 * DATABASE_URL, ...) keep working; where both name one setting, the MONBAN_ form wins.
 */
export const ENV_PREFIX = 'MONBAN_';

/** The short names, kept for compatibility: variable -> setting path. */
export const SHORT_NAMES: Readonly<Record<string, string>> = {
  PORT: 'port',
  ISSUER: 'issuer',
  TRUST_PROXY: 'trustProxy',
  DATABASE_URL: 'databaseUrl',
  DATABASE_POOL_SIZE: 'databasePoolSize',
  DATABASE_PREPARED_STATEMENTS: 'databasePreparedStatements',
  WEB_CONCURRENCY: 'webConcurrency',
  REDIS_URL: 'redisUrl',
  REDIS_CLUSTER_NODES: 'redisClusterNodes',
  DATA_DIR: 'dataDir',
  LOG_LEVEL: 'logLevel',
  BCRYPT_COST: 'bcryptCost',
  MIGRATE_ON_START: 'migrateOnStart',
  SUPPORT_EMAIL: 'support.email',
  SMTP_URL: 'mail.smtpUrl',
  MAIL_FROM: 'mail.from',
  MAIL_CODE_IN_SUBJECT: 'mail.codeInSubject',
  SMS_BASE_URL: 'sms.baseUrl',
  SMS_ACCOUNT_SID: 'sms.accountSid',
  SMS_AUTH_TOKEN: 'sms.authToken',
  SMS_FROM: 'sms.from',
  SMS_ALLOWED_COUNTRIES: 'sms.allowedCountries',
  DUO_CLIENT_ID: 'mfa.duo.clientId',
  DUO_CLIENT_SECRET: 'mfa.duo.clientSecret',
  DUO_API_HOST: 'mfa.duo.apiHost',
  MFA_REMEMBER_BROWSER_DAYS: 'mfa.rememberBrowserDays',
  VIEWS_OVERRIDE_DIR: 'viewsOverrideDir',
};

/** MONBAN_ variables that are not settings (test and tooling switches). */
const NOT_SETTINGS = /^MONBAN_(TEST|CI)_/;

export class EnvError extends Error {
  override name = 'EnvError';
}

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
const camel = (name: string) => name.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The MONBAN_ variable for a setting path: 'passwordPolicy.minLength' -> MONBAN_PASSWORD_POLICY__MIN_LENGTH. */
export function envNameFor(settingPath: string): string {
  return ENV_PREFIX + settingPath.split('.').map(snake).join('__');
}

type Schema = z.ZodType;
const defOf = (schema: Schema) => schema._zod.def as unknown as Record<string, unknown> & { type: string };

/** Optional, nullable, default and pipe wrappers hide the type underneath. */
function unwrap(schema: Schema): Schema {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default') current = def.innerType as Schema;
    else if (def.type === 'pipe') current = def.in as Schema;
    else return current;
  }
}

function shapeOf(schema: Schema): Record<string, Schema> | undefined {
  const def = defOf(unwrap(schema));
  return def.type === 'object' ? (def.shape as Record<string, Schema>) : undefined;
}

/** The setting path named by a MONBAN_ variable, checked against the schema; undefined if none. */
function settingFor(name: string, schema: Schema): string | undefined {
  const parts: string[] = [];
  let node: Schema = schema;
  for (const segment of name.slice(ENV_PREFIX.length).split('__')) {
    const shape = shapeOf(node);
    if (!shape) return undefined;
    const key = camel(segment);
    const next = shape[key];
    if (!next) return undefined;
    parts.push(key);
    node = next;
  }
  return parts.join('.');
}

function schemaAt(schema: Schema, settingPath: string): Schema {
  let node = schema;
  for (const key of settingPath.split('.')) {
    const next = shapeOf(node)?.[key];
    if (!next) throw new Error(`no setting ${settingPath}`);
    node = next;
  }
  return node;
}

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off)$/i;

function parseJson(name: string, raw: string, what: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new EnvError(`${name}: expected ${what} as JSON, got "${raw}"`);
  }
}

/** Reads a raw variable as the type the schema expects at that setting. */
function coerce(name: string, raw: string, schema: Schema): unknown {
  const inner = unwrap(schema);
  const def = defOf(inner);
  switch (def.type) {
    case 'number':
      if (!/^-?\d+(\.\d+)?$/.test(raw.trim())) throw new EnvError(`${name}: expected a whole number, got "${raw}"`);
      return Number(raw);
    case 'boolean':
      if (TRUE.test(raw)) return true;
      if (FALSE.test(raw)) return false;
      throw new EnvError(`${name}: expected true or false, got "${raw}"`);
    case 'array':
      if (raw.trim().startsWith('[')) return parseJson(name, raw, 'a list');
      return raw
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)
        .map((item) => coerce(name, item, def.element as Schema));
    case 'object':
    case 'record':
      return parseJson(name, raw, 'an object');
    case 'union': {
      // The first alternative that reads the value wins: booleans and numbers before text.
      const options = def.options as Schema[];
      const kinds = options.map((option) => defOf(unwrap(option)).type);
      if (kinds.includes('boolean') && (TRUE.test(raw) || FALSE.test(raw))) return TRUE.test(raw);
      if (kinds.includes('number') && /^-?\d+$/.test(raw.trim())) return Number(raw);
      // Text where the union takes text and the value is not a list; otherwise a list.
      const list = options.find((option) => defOf(unwrap(option)).type === 'array');
      const text = kinds.some((kind) => kind === 'string' || kind === 'enum');
      if (list && (!text || raw.includes(',') || raw.trim().startsWith('['))) return coerce(name, raw, list);
      return raw;
    }
    default:
      return raw;
  }
}

export interface EnvSetting {
  variable: string;
  path: string;
  value: unknown;
}

/**
 * Every setting the environment gives, short names first and MONBAN_ names after (so they win).
 * An unknown MONBAN_ variable is an error: a typo must not silently leave a default in force.
 */
export function settingsFromEnv(env: NodeJS.ProcessEnv, schema: Schema): EnvSetting[] {
  const settings: EnvSetting[] = [];
  for (const [variable, settingPath] of Object.entries(SHORT_NAMES)) {
    const raw = env[variable];
    if (raw === undefined || raw === '') continue;
    settings.push({ variable, path: settingPath, value: coerce(variable, raw, schemaAt(schema, settingPath)) });
  }
  for (const [variable, raw] of Object.entries(env)) {
    if (!variable.startsWith(ENV_PREFIX) || NOT_SETTINGS.test(variable) || raw === undefined || raw === '') continue;
    const settingPath = settingFor(variable, schema);
    if (!settingPath) throw new EnvError(`${variable}: no such setting (see "Configuration" in the README)`);
    settings.push({ variable, path: settingPath, value: coerce(variable, raw, schemaAt(schema, settingPath)) });
  }
  return settings;
}
