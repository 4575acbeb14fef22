import { parseArgs } from 'node:util';
import path from 'node:path';
import { closeServices, openServices, PROJECT_ROOT, type Services } from '../app.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { DatabaseInUseError } from '../db/database.js';
import { AppError, FormError } from '../http/errors.js';
import { initI18n, translator } from '../http/i18n.js';
import { createAccount } from '../identity/accounts/service.js';
import { createLogger } from '../logger.js';
import { ensureServerKeys, rotateSigningKeys } from '../oidc/keys.js';
import { recordAudit } from '../security/audit.js';
import { AdminInputError, createClient, listAllClients, removeClient } from './clients.js';

const USAGE = `Usage: npm run admin -- <command>

  client create --name NAME --redirect-uri URI [--redirect-uri URI2]
                [--post-logout-redirect-uri URI] [--public] [--grant client_credentials]
  client list
  client delete CLIENT_ID
  user create --email E --password P --given-name G --family-name F [--locale ja|en]
  keys rotate     promote the staged signing key, retire the active one, stage a new one

Prints JSON. A confidential client's secret is shown once, at creation.`;

type Handler = (services: Services, args: string[]) => Promise<unknown>;

const commands: Record<string, Handler> = {
  'client create': async (services, args) => {
    const { values } = parseArgs({
      args,
      options: {
        name: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'post-logout-redirect-uri': { type: 'string', multiple: true },
        public: { type: 'boolean' },
        grant: { type: 'string', multiple: true },
      },
      strict: true,
    });
    return createClient(services, {
      name: values.name ?? '',
      redirectUris: values['redirect-uri'] ?? [],
      postLogoutRedirectUris: values['post-logout-redirect-uri'] ?? [],
      isPublic: values.public ?? false,
      extraGrants: values.grant ?? [],
    });
  },
  'client list': async (services) => listAllClients(services),
  'client delete': async (services, args) => {
    const [clientId] = args;
    if (!clientId) throw new AdminInputError('client delete needs a CLIENT_ID');
    if (!(await removeClient(services, clientId))) throw new AdminInputError(`no client with id ${clientId}`);
    return { deleted: clientId };
  },
  'user create': async (services, args) => {
    const { values } = parseArgs({
      args,
      options: {
        email: { type: 'string' },
        password: { type: 'string' },
        'given-name': { type: 'string' },
        'family-name': { type: 'string' },
        locale: { type: 'string' },
      },
      strict: true,
    });
    if (!values.email || !values.password) throw new AdminInputError('user create needs --email and --password');
    if (values.locale && values.locale !== 'ja' && values.locale !== 'en') throw new AdminInputError('--locale must be ja or en');
    const account = await createAccount(services.db, services.hasher, services.policy, {
      email: values.email,
      password: values.password,
      givenName: values['given-name'] ?? '',
      familyName: values['family-name'] ?? '',
      locale: (values.locale as 'ja' | 'en' | undefined) ?? 'ja',
      status: 'active',
      emailVerified: true,
    });
    await recordAudit(services.db, { type: 'admin.user.created', accountId: account.id });
    return { id: account.id, username: account.username, email: account.email, status: account.status };
  },
  'keys rotate': async (services) => {
    const result = await rotateSigningKeys(services.db, services.box);
    await recordAudit(services.db, { type: 'admin.keys.rotated', details: { ...result } });
    return { ...result, note: 'restart Monban processes (one at a time) to sign with the new key' };
  },
};

function describe(err: unknown): string {
  if (err instanceof AppError) return `${translator('en').t(`errors.${err.code}`, err.params)} (${err.code})`;
  if (err instanceof FormError) return err.codes.map((code) => `${translator('en').t(`errors.${code}`)} (${code})`).join('\n       ');
  if (err instanceof Error) return err.message;
  return String(err);
}

async function main(argv: string[]): Promise<number> {
  const key = argv.slice(0, 2).join(' ');
  const handler = commands[key];
  if (!handler) {
    process.stderr.write(`${USAGE}\n`);
    return argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' ? 0 : 64;
  }
  const config = loadConfig();
  await initI18n(path.join(PROJECT_ROOT, 'views'));
  let services: Services;
  try {
    services = await openServices(config, createLogger('warn'));
  } catch (err) {
    if (!(err instanceof DatabaseInUseError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    return 75; // EX_TEMPFAIL
  }
  try {
    await ensureServerKeys(services.db, services.box);
    const result = await handler(services, argv.slice(2));
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (err) {
    const expected = err instanceof AdminInputError || err instanceof AppError || err instanceof FormError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`error: ${describe(err)}\n`);
    if (!expected) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    return expected ? 64 : 1;
  } finally {
    await closeServices(services);
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err: unknown) => {
  process.stderr.write(`error: ${err instanceof ConfigError ? err.message : describe(err)}\n`);
  process.exitCode = err instanceof ConfigError ? 78 : 1;
});
