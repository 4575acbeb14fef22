import { randomBytes } from 'node:crypto';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Db } from '../../db/database.js';
import type { SecretBox } from '../../security/secret-box.js';

export interface ClientRegistration {
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  /** Public clients (SPAs, native apps) have no secret and authenticate with PKCE alone. */
  isPublic?: boolean;
  /** Extra grants beyond authorization_code + refresh_token, e.g. client_credentials. */
  extraGrants?: string[];
}

export interface ClientSummary {
  client_id: string;
  client_name: string;
  public: boolean;
  redirect_uris: string[];
  grant_types: string[];
  created_at: Date;
}

export interface CreatedClient extends ClientSummary {
  /** Present once, at creation, for confidential clients. */
  client_secret?: string;
}

const secretContext = (clientId: string) => `client_secret:${clientId}`;

export function buildClientMetadata(registration: ClientRegistration): Record<string, unknown> {
  const grants = new Set(registration.extraGrants ?? []);
  const interactive = registration.redirectUris.length > 0;
  if (interactive) {
    grants.add('authorization_code');
    grants.add('refresh_token');
  }
  return {
    client_name: registration.name,
    redirect_uris: registration.redirectUris,
    post_logout_redirect_uris: registration.postLogoutRedirectUris ?? [],
    grant_types: [...grants],
    response_types: interactive ? ['code'] : [],
    token_endpoint_auth_method: registration.isPublic ? 'none' : 'client_secret_basic',
  };
}

export async function insertClient(
  db: Db,
  box: SecretBox,
  clientId: string,
  metadata: Record<string, unknown>,
): Promise<CreatedClient> {
  const isPublic = metadata.token_endpoint_auth_method === 'none';
  // 256 bits: a secret this strong needs no slow hash, so the token endpoint stays fast.
  const secret = isPublic ? undefined : randomBytes(32).toString('base64url');
  const row = await db.insertInto('oidc_clients').values({
    client_id: clientId,
    client_name: String(metadata.client_name),
    client_secret_sealed: secret ? box.seal(secret, secretContext(clientId)) : null,
    metadata: JSON.stringify(metadata),
    updated_at: new Date(),
  }).returning(['created_at']).executeTakeFirstOrThrow();
  return {
    ...summarize(clientId, metadata, row.created_at),
    ...(secret ? { client_secret: secret } : {}),
  };
}

function summarize(clientId: string, metadata: Record<string, unknown>, createdAt: Date): ClientSummary {
  return {
    client_id: clientId,
    client_name: String(metadata.client_name),
    public: metadata.token_endpoint_auth_method === 'none',
    redirect_uris: (metadata.redirect_uris as string[] | undefined) ?? [],
    grant_types: (metadata.grant_types as string[] | undefined) ?? [],
    created_at: createdAt,
  };
}

export async function listClients(db: Db): Promise<ClientSummary[]> {
  const rows = await db.selectFrom('oidc_clients').select(['client_id', 'metadata', 'created_at'])
    .orderBy('created_at').execute();
  return rows.map((row) => summarize(row.client_id, row.metadata, row.created_at));
}

export async function deleteClient(db: Db, clientId: string): Promise<boolean> {
  const result = await db.deleteFrom('oidc_clients').where('client_id', '=', clientId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** oidc-provider's Client model reads registered clients from PostgreSQL through this. */
export class ClientAdapter implements Adapter {
  constructor(private readonly db: Db, private readonly box: SecretBox) {}

  async find(id: string): Promise<AdapterPayload | undefined> {
    const row = await this.db.selectFrom('oidc_clients')
      .select(['metadata', 'client_secret_sealed'])
      .where('client_id', '=', id)
      .executeTakeFirst();
    if (!row) return undefined;
    const payload = { ...row.metadata, client_id: id } as AdapterPayload;
    if (row.client_secret_sealed) payload.client_secret = this.box.openText(row.client_secret_sealed, secretContext(id));
    return payload;
  }

  async upsert(): Promise<void> {
    throw new Error('clients are managed with the admin CLI or API');
  }

  async findByUid(): Promise<undefined> { return undefined; }
  async findByUserCode(): Promise<undefined> { return undefined; }
  async consume(): Promise<void> {}
  async destroy(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
}
