import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PROJECT_ROOT } from '../paths.js';
import { EnvError, settingsFromEnv } from './env.js';
import { configSchema, type Config } from './schema.js';
import { defaultWorkerCount } from './worker-memory.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Json = Record<string, unknown>;

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
  const last = parts.pop() ?? dotted;
  let node = target;
  for (const part of parts) {
    if (!isPlainObject(node[part])) node[part] = {};
    node = node[part] as Json;
  }
  node[last] = value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `  - ${issue.path.join('.') || '(root)'}: ${issue.message}`).join('\n');
}

export interface LoadOptions {
  /** Folder holding default.json and <NODE_ENV>.json; default CONFIG_DIR, else the install's config/. */
  configDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Programmatic overrides applied last (tests, benchmark). */
  overrides?: Json;
}

/** The config folder: CONFIG_DIR, else config/ of the install (never the working directory's). */
export function configDirFrom(env: NodeJS.ProcessEnv): string {
  return env.CONFIG_DIR ? path.resolve(env.CONFIG_DIR) : path.join(PROJECT_ROOT, 'config');
}

/**
 * Reads config/default.json, then config/<NODE_ENV>.json, then the environment, then overrides;
 * validates the result against the schema and freezes it. Any bad value throws a ConfigError
 * that names the setting.
 */
export function loadConfig(options: LoadOptions = {}): Readonly<Config> {
  const env = options.env ?? process.env;
  const configDir = options.configDir ?? configDirFrom(env);
  let raw = readJson(path.join(configDir, 'default.json'));
  const envFile = env.NODE_ENV ? path.join(configDir, `${env.NODE_ENV}.json`) : undefined;
  if (envFile && existsSync(envFile)) raw = deepMerge(raw, readJson(envFile));

  try {
    for (const setting of settingsFromEnv(env, configSchema)) setPath(raw, setting.path, setting.value);
  } catch (err) {
    if (err instanceof EnvError) throw new ConfigError(err.message);
    throw err;
  }
  if (options.overrides) raw = deepMerge(raw, options.overrides);
  if (raw.issuer === undefined || raw.issuer === null) raw.issuer = `http://localhost:${String(raw.port)}`;
  raw.webConcurrency ??= env.NODE_ENV === 'production' && raw.databaseUrl ? defaultWorkerCount() : 1;

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration:\n${describeIssues(parsed.error)}`);
  }
  const config = parsed.data;
  if (config.databaseUrl && !config.secret) {
    throw new ConfigError('invalid configuration:\n  - secret: MONBAN_SECRET is required when DATABASE_URL is set');
  }
  if (config.webConcurrency > 1 && !config.databaseUrl) {
    throw new ConfigError(
      'invalid configuration:\n  - webConcurrency: WEB_CONCURRENCY above 1 needs DATABASE_URL (the embedded database serves one process)',
    );
  }
  return deepFreeze(config);
}
