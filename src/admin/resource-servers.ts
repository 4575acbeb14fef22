import { sql } from 'kysely';
import { isUniqueViolation } from '../db/unique-violation.js';
import { AppError } from '../errors.js';
import type { Db } from '../db/database.js';
import type { ResourceServersTable } from '../db/schema.js';
import type { Selectable } from 'kysely';
import { recordAudit } from '../security/audit.js';
import { createClient, removeClient, AdminInputError, type Actor, type ClientServices } from './clients.js';

/** A registered resource server as the admin API shows it. */
export interface ResourceServerView {
  identifier: string;
  name: string;
  scopes: string[];
  access_token_format: 'jwt' | 'opaque';
  access_token_lifetime: number;
  /** The resource server's own client: its credentials may introspect the tokens issued for it. */
  client_id: string;
  created_at: string;
  updated_at: string;
}

export interface ResourceServerInput {
  identifier: string;
  name: string;
  scopes: string[];
  access_token_format: 'jwt' | 'opaque';
  access_token_lifetime: number;
}

export type ResourceServerChange = Partial<Omit<ResourceServerInput, 'identifier'>>;

function view(row: Selectable<ResourceServersTable>): ResourceServerView {
  return {
    identifier: row.identifier,
    name: row.name,
    scopes: row.scopes,
    access_token_format: row.access_token_format,
    access_token_lifetime: row.access_token_seconds,
    client_id: row.client_id,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/**
 * RFC 8707 2: a resource indicator is an absolute URI without a fragment (https, or http on
 * loopback for development); Monban's own admin API (`<issuer>/admin`) is not for registering.
 */
function checkIdentifier(services: ClientServices, identifier: string): void {
  let url: URL;
  try {
    url = new URL(identifier);
  } catch {
    throw new AdminInputError(`identifier is not an absolute URI: ${identifier}`);
  }
  if (url.hash) throw new AdminInputError('identifier must not contain a fragment');
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    throw new AdminInputError('identifier must use https (http only for localhost)');
  if (identifier === `${services.config.issuer}/admin`) throw new AdminInputError('that identifier is Monban’s own');
}

/**
 * Registers a resource server and its own client (client_credentials, client_secret_basic): the
 * secret is in this answer only, like a client's.
 */
export async function createResourceServer(
  services: ClientServices,
  input: ResourceServerInput,
  by: Actor,
): Promise<ResourceServerView & { client_secret: string }> {
  checkIdentifier(services, input.identifier);
  const exists = await services.db
    .selectFrom('resource_servers')
    .select('identifier')
    .where('identifier', '=', input.identifier)
    .executeTakeFirst();
  if (exists) throw new AppError('RESOURCE_SERVER_EXISTS');
  const client = await createClient(
    services,
    { name: `${input.name} (resource server)`, redirectUris: [], extraGrants: ['client_credentials'] },
    by,
  );
  try {
    const row = await services.db.transaction().execute(async (trx: Db) => {
      const inserted = await trx
        .insertInto('resource_servers')
        .values({
          identifier: input.identifier,
          name: input.name,
          scopes: JSON.stringify(input.scopes),
          access_token_format: input.access_token_format,
          access_token_seconds: input.access_token_lifetime,
          client_id: client.client_id,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordAudit(
        trx,
        {
          type: 'admin.resource_server.created',
          clientId: client.client_id,
          actor: by.actor,
          details: { identifier: input.identifier },
        },
        by.meta,
      );
      return inserted;
    });
    return { ...view(row), client_secret: client.client_secret ?? '' };
  } catch (err) {
    await removeClient(services, client.client_id, by);
    // Registered by a parallel request between the check above and this insert.
    if (isUniqueViolation(err, 'resource_servers_pkey')) throw new AppError('RESOURCE_SERVER_EXISTS');
    throw err;
  }
}

export async function listResourceServers(
  services: ClientServices,
  page: { after?: string | undefined; limit: number },
): Promise<ResourceServerView[]> {
  let query = services.db.selectFrom('resource_servers').selectAll().orderBy('identifier').limit(page.limit);
  if (page.after) query = query.where('identifier', '>', page.after);
  return (await query.execute()).map(view);
}

export async function getResourceServer(services: ClientServices, identifier: string): Promise<ResourceServerView> {
  const row = await services.db
    .selectFrom('resource_servers')
    .selectAll()
    .where('identifier', '=', identifier)
    .executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND');
  return view(row);
}

/** New settings apply to tokens issued from now on; tokens already out keep theirs. */
export async function updateResourceServer(
  services: ClientServices,
  identifier: string,
  change: ResourceServerChange,
  by: Actor,
): Promise<ResourceServerView> {
  return services.db.transaction().execute(async (trx: Db) => {
    const row = await trx
      .updateTable('resource_servers')
      .set({
        ...(change.name !== undefined ? { name: change.name } : {}),
        ...(change.scopes !== undefined ? { scopes: JSON.stringify(change.scopes) } : {}),
        ...(change.access_token_format !== undefined ? { access_token_format: change.access_token_format } : {}),
        ...(change.access_token_lifetime !== undefined ? { access_token_seconds: change.access_token_lifetime } : {}),
        updated_at: sql<Date>`now()`,
      })
      .where('identifier', '=', identifier)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new AppError('NOT_FOUND');
    await recordAudit(
      trx,
      {
        type: 'admin.resource_server.updated',
        clientId: row.client_id,
        actor: by.actor,
        details: { identifier, fields: Object.keys(change).sort() },
      },
      by.meta,
    );
    return view(row);
  });
}

/** Deletes the resource server and its own client; tokens for it are refused from then on (invalid_target). */
export async function deleteResourceServer(services: ClientServices, identifier: string, by: Actor): Promise<void> {
  const current = await getResourceServer(services, identifier);
  await services.db.transaction().execute(async (trx: Db) => {
    await trx.deleteFrom('resource_servers').where('identifier', '=', identifier).execute();
    await recordAudit(
      trx,
      { type: 'admin.resource_server.deleted', clientId: current.client_id, actor: by.actor, details: { identifier } },
      by.meta,
    );
  });
  await removeClient(services, current.client_id, by);
}
