import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import type { Logger } from '../logger.js';
import { recordAudit } from '../security/audit.js';
import {
  countAdminClients,
  findClientRow,
  insertClient,
  invalidateClient,
  newClientId,
  updateClient,
} from '../oidc/clients/repository.js';
import { adminResource } from '../oidc/resource-servers.js';
import { clientMetadata, inputFromRegistration, type ClientServices } from './clients.js';

export const ADMIN_CLIENT_FILE = 'admin-client.json';

/** What the bootstrap file holds: enough for the CLI (or curl) to get an admin token. */
export interface AdminClientFile {
  issuer: string;
  token_endpoint: string;
  resource: string;
  admin_api: string;
  client_id: string;
  client_secret: string;
}

const metadata = () =>
  clientMetadata(
    inputFromRegistration({
      name: 'Monban bootstrap admin',
      redirectUris: [],
      extraGrants: ['client_credentials'],
      admin: true,
    }),
  );

/**
 * The first start creates an admin client when none exists and writes its credentials to
 * <dataDir>/admin-client.json, readable by this user only (mode 0600). With
 * MONBAN_ADMIN_CLIENT_ID and MONBAN_ADMIN_CLIENT_SECRET that client is registered instead, or
 * its secret and admin flag set (how an operator rotates it: a new secret, then a restart).
 * Processes starting together take turns on an advisory lock.
 */
export async function bootstrapAdminClient(services: ClientServices & { logger: Logger }): Promise<void> {
  const { config, db, box, logger } = services;
  const given =
    config.adminClientId && config.adminClientSecret
      ? { id: config.adminClientId, secret: config.adminClientSecret }
      : undefined;
  if (!given && config.dataDir === 'memory://') return;
  const created = await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('monban:bootstrap-admin'))`.execute(trx);
    if (given) {
      const existing = await findClientRow(trx, given.id, true);
      if (existing) await updateClient(trx, box, given.id, { metadata: metadata(), secret: given.secret });
      else await insertClient(trx, box, given.id, metadata(), given.secret);
      await recordAudit(trx, {
        type: existing ? 'admin.client.updated' : 'admin.client.created',
        clientId: given.id,
        actor: 'bootstrap',
        details: { from: 'MONBAN_ADMIN_CLIENT_ID' },
      });
      return { id: given.id };
    }
    if ((await countAdminClients(trx)) > 0) return undefined;
    const clientId = newClientId();
    const client = await insertClient(trx, box, clientId, metadata());
    await recordAudit(trx, { type: 'admin.client.created', clientId, actor: 'bootstrap' });
    const file = path.resolve(config.dataDir, ADMIN_CLIENT_FILE);
    const content: AdminClientFile = {
      issuer: config.issuer,
      token_endpoint: `${config.issuer}/token`,
      resource: adminResource(config.issuer),
      admin_api: `${config.issuer}/admin/api/v1`,
      client_id: clientId,
      client_secret: client.client_secret ?? '',
    };
    // Written before the commit: a failure to write leaves no admin client nobody knows the secret of.
    // With DATABASE_URL nothing else uses dataDir, so on a fresh machine it may not exist yet.
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    return { id: clientId, file };
  });
  if (!created) return;
  await invalidateClient(services.changes, created.id);
  if ('file' in created)
    logger.info(
      { file: created.file, clientId: created.id },
      `created the bootstrap admin client; its credentials are in ${created.file} (readable by this user only)`,
    );
  else logger.info({ clientId: created.id }, 'registered the admin client given by MONBAN_ADMIN_CLIENT_ID');
}
