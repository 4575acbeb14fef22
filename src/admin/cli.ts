import '../cli/supported-node.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  accountRevokerOf,
  closeServices,
  credentialThrottleOf,
  domainVerifierOf,
  emailChangeOf,
  openServices,
  PROJECT_ROOT,
  type Services,
} from '../app.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { DatabaseInUseError } from '../db/database.js';
import { AppError, FormError } from '../errors.js';
import { initI18n, translator } from '../text/i18n.js';
import { createLogger } from '../logger.js';
import { ensureServerKeys } from '../oidc/keys.js';
import { recordAudit } from '../security/audit.js';
import { adminOperations } from './api/operations.js';
import { AdminInputError } from './clients.js';
import { ADMIN_CLIENT_FILE, type AdminClientFile } from './bootstrap.js';
import { AdminApiRefusal, type AdminBackend } from './commands/backend.js';
import { COMMANDS, type Command } from './commands/commands.js';
import { DirectBackend } from './commands/direct.js';
import { HttpBackend, type AdminEndpoint } from './commands/http.js';
import { output } from './commands/output.js';
import { resealAll } from './secrets.js';

const USAGE = `Usage: npm run admin -- <command> [--json]

${Object.values(COMMANDS)
  .map((command) => `  ${command.usage}`)
  .join('\n')}

Every command is the admin API's (/admin/api/v1) under another name. It goes to a running
server's admin API when there is one (MONBAN_ADMIN_URL with MONBAN_ADMIN_CLIENT_ID and
MONBAN_ADMIN_CLIENT_SECRET, or, while \`npm start\` holds the embedded database, the bootstrap
admin client in <dataDir>/admin-client.json); otherwise it works on the database itself.
A readable table on a terminal, JSON when piped or with --json. A confidential client's secret
is shown once, at creation (and at rotate-secret).

  secrets reseal  reseal every stored secret with the first MONBAN_SECRET; afterwards the
                  others may be removed (on the database itself, never through the API;
                  docs/operations.md)`;

/** \`secrets reseal\`: on the database itself (the admin API has no such operation). Prints JSON. */
async function reseal(config: ReturnType<typeof loadConfig>): Promise<number> {
  const services = await openServices(config, createLogger('warn'));
  try {
    const report = await resealAll(
      { db: services.db, box: services.box, listedSecretIds: services.secretIds },
      (line) => process.stderr.write(`${line}\n`),
    );
    await recordAudit(services.db, {
      type: 'admin.secrets.resealed',
      actor: 'cli',
      details: { sealedWith: report.sealedWith, stores: report.stores },
    });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    if (Object.values(report.stores).some((store) => store.failed > 0)) {
      process.stderr.write('error: some values open with no listed secret; keep every secret listed\n');
      return 64;
    }
    return 0;
  } finally {
    await closeServices(services);
  }
}

function describe(err: unknown): string {
  if (err instanceof AppError) return `${translator('en').t(`errors.${err.code}`, err.params)} (${err.code})`;
  if (err instanceof FormError)
    return err.codes.map((code) => `${translator('en').t(`errors.${code}`)} (${code})`).join('\n       ');
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The running server's admin API: MONBAN_ADMIN_URL with the client from the environment, or the bootstrap file. */
function adminEndpoint(config: ReturnType<typeof loadConfig>, embeddedInUse: boolean): AdminEndpoint | undefined {
  if (config.adminUrl) {
    if (!config.adminClientId || !config.adminClientSecret)
      throw new AdminInputError('MONBAN_ADMIN_URL needs MONBAN_ADMIN_CLIENT_ID and MONBAN_ADMIN_CLIENT_SECRET');
    return { issuer: config.adminUrl, client_id: config.adminClientId, client_secret: config.adminClientSecret };
  }
  if (!embeddedInUse) return undefined;
  const file = path.resolve(config.dataDir, ADMIN_CLIENT_FILE);
  if (!existsSync(file)) return undefined;
  const saved = JSON.parse(readFileSync(file, 'utf8')) as AdminClientFile;
  return { issuer: saved.issuer, client_id: saved.client_id, client_secret: saved.client_secret };
}

const isExpected = (err: unknown) =>
  err instanceof AdminInputError ||
  err instanceof AdminApiRefusal ||
  err instanceof AppError ||
  err instanceof FormError ||
  Boolean((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'));

/** Runs the command on a back end; Ctrl-C ends a --follow cleanly. */
async function run(command: Command, api: AdminBackend, args: string[], json: boolean): Promise<number> {
  const out = output(process.stdout, { json, ...(command.columns ? { columns: command.columns } : {}) });
  const stop = new AbortController();
  const interrupt = () => stop.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    const result = await command.run(api, args, out, stop.signal);
    if (result !== undefined) out.answer(result);
    return 0;
  } catch (err) {
    process.stderr.write(`error: ${describe(err)}\n`);
    if (!isExpected(err)) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    return isExpected(err) ? 64 : 1;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

/** The database's own back end: the admin API's operations, run in this process as 'cli'. */
function directBackend(services: Services): DirectBackend {
  const revoker = accountRevokerOf(services);
  return new DirectBackend(
    adminOperations({
      ...services,
      revoker,
      emailChange: emailChangeOf(services, revoker),
      credentialThrottle: credentialThrottleOf(services),
      domainVerifier: domainVerifierOf(services),
    }),
  );
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const words = argv.filter((arg) => arg !== '--json');
  const key = words.slice(0, 2).join(' ');
  const args = words.slice(2);
  const command = COMMANDS[key];
  if (key === 'secrets reseal') return reseal(loadConfig());
  if (!command) {
    if (words.length === 0 || words[0] === 'help' || words[0] === '--help') {
      process.stderr.write(`${USAGE}\n`);
      return 0;
    }
    process.stderr.write(`error: unknown command "${key}"\n\n${USAGE}\n`);
    return 64;
  }
  const config = loadConfig();
  await initI18n(path.join(PROJECT_ROOT, 'views'));
  const remote = adminEndpoint(config, false);
  if (remote) return run(command, new HttpBackend(remote), args, json);
  let services: Services;
  try {
    services = await openServices(config, createLogger('warn'));
  } catch (err) {
    if (!(err instanceof DatabaseInUseError)) throw err;
    // The embedded database belongs to the running server: ask it, with the bootstrap admin client.
    const endpoint = adminEndpoint(config, true);
    if (endpoint) return run(command, new HttpBackend(endpoint), args, json);
    process.stderr.write(`error: ${err.message}\n`);
    return 75; // EX_TEMPFAIL
  }
  try {
    await ensureServerKeys(services.db, services.box);
    return await run(command, directBackend(services), args, json);
  } finally {
    await closeServices(services);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof ConfigError ? err.message : describe(err)}\n`);
    process.exitCode = err instanceof ConfigError ? 78 : 1;
  },
);
