import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';
import type { Services } from '../app.js';
import { recordAudit } from '../security/audit.js';
import { loadSigningJwks } from '../oidc/keys.js';
import {
  buildClientMetadata, ClientAdapter, deleteClient, insertClient, listClients,
  type ClientRegistration, type ClientSummary, type CreatedClient,
} from '../oidc/clients/repository.js';

export class AdminInputError extends Error {
  override name = 'AdminInputError';
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Redirect URIs are matched exactly (RFC 9700 4.1.3); plain http is allowed only for loopback. */
function checkRedirectUri(uri: string): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new AdminInputError(`redirect URI is not an absolute URL: ${uri}`);
  }
  if (url.hash) throw new AdminInputError(`redirect URI must not contain a fragment: ${uri}`);
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    throw new AdminInputError(`redirect URI must use https (http only for localhost): ${uri}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new AdminInputError(`redirect URI must use https: ${uri}`);
  }
}

/** Runs oidc-provider's own client metadata validation on a throwaway instance. */
async function validateWithProvider(services: Services, clientId: string, metadata: Record<string, unknown>): Promise<void> {
  const probe = new Provider(services.config.issuer, {
    clients: [{ ...metadata, client_id: clientId, client_secret: 'x'.repeat(43) } as never],
    features: { devInteractions: { enabled: false }, clientCredentials: { enabled: true } },
    jwks: await loadSigningJwks(services.db, services.box) as never,
    adapter: () => new ClientAdapter(services.db, services.box),
  });
  try {
    await probe.Client.find(clientId);
  } catch (err) {
    const e = err as { error_description?: string; message: string };
    throw new AdminInputError(`invalid client: ${e.error_description ?? e.message}`);
  }
}

export async function createClient(services: Services, registration: ClientRegistration): Promise<CreatedClient> {
  if (!registration.name.trim()) throw new AdminInputError('a client needs a --name');
  const grants = registration.extraGrants ?? [];
  for (const grant of grants) {
    if (grant !== 'client_credentials') throw new AdminInputError(`unsupported grant: ${grant}`);
  }
  if (registration.redirectUris.length === 0 && !grants.includes('client_credentials')) {
    throw new AdminInputError('a client needs at least one --redirect-uri (or --grant client_credentials)');
  }
  if (registration.isPublic && grants.includes('client_credentials')) {
    throw new AdminInputError('a public client cannot use client_credentials');
  }
  [...registration.redirectUris, ...(registration.postLogoutRedirectUris ?? [])].forEach(checkRedirectUri);

  const clientId = randomBytes(16).toString('base64url');
  const metadata = buildClientMetadata(registration);
  await validateWithProvider(services, clientId, metadata);
  const created = await insertClient(services.db, services.box, clientId, metadata);
  await recordAudit(services.db, { type: 'admin.client.created', clientId, details: { name: registration.name } });
  return created;
}

export function listAllClients(services: Services): Promise<ClientSummary[]> {
  return listClients(services.db);
}

export async function removeClient(services: Services, clientId: string): Promise<boolean> {
  const deleted = await deleteClient(services.db, clientId);
  if (deleted) await recordAudit(services.db, { type: 'admin.client.deleted', clientId });
  return deleted;
}
