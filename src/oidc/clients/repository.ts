import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { BoundedMap } from '../../bounded-map.js';
import type { Db } from '../../db/database.js';
import type { ChangeFeed } from '../../events/change-feed.js';
import type { SecretBox } from '../../security/secret-box.js';

/** A registered client as the admin CLI and API show it: RFC 7591 metadata names, plus `admin`. */
export interface ClientView {
  client_id: string;
  client_name: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: string[];
  token_endpoint_auth_method: string;
  /** May get tokens for the admin API (oidc/resource-servers.ts). */
  admin: boolean;
  /** OIDC Back-Channel Logout 1.0: where logout tokens go; absent when the client takes none. */
  backchannel_logout_uri?: string;
  require_pushed_authorization_requests: boolean;
  dpop_bound_access_tokens: boolean;
  /** The client's public keys (RFC 7591), listed or where oidc-provider reads them. */
  jwks?: { keys: Record<string, unknown>[] };
  jwks_uri?: string;
  /** RFC 9101: authorization requests only as signed request objects. */
  require_signed_request_object: boolean;
  /** OIDC Core 8.1: pairwise clients get a `sub` of their own per user (oidc/pairwise.ts). */
  subject_type: 'public' | 'pairwise';
  /** The pairwise sector's address (its host is the sector), when the client named one. */
  sector_identifier_uri?: string;
  created_at: string;
  updated_at: string;
}

export interface ClientWithSecret extends ClientView {
  /** Present once: at creation (confidential clients) and when the secret is rotated. */
  client_secret?: string;
}

export const secretContext = (clientId: string) => `client_secret:${clientId}`;

/** 256 bits: a secret this strong needs no slow hash, so the token endpoint stays fast. */
export const newClientSecret = (): string => randomBytes(32).toString('base64url');

/**
 * 128 random bits, base64url, never starting with '-': an id like "-Cfj1..." would read as an option to
 * the admin CLI and to most shell tools an operator pastes it into.
 */
export function newClientId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

type ClientRowPart = { client_id: string; metadata: Record<string, unknown>; created_at: Date; updated_at: Date };

export function clientView(row: ClientRowPart): ClientView {
  const m = row.metadata;
  return {
    client_id: row.client_id,
    client_name: String(m.client_name),
    redirect_uris: (m.redirect_uris as string[] | undefined) ?? [],
    post_logout_redirect_uris: (m.post_logout_redirect_uris as string[] | undefined) ?? [],
    grant_types: (m.grant_types as string[] | undefined) ?? [],
    token_endpoint_auth_method: (m.token_endpoint_auth_method as string | undefined) ?? 'client_secret_basic',
    admin: m.admin === true,
    ...(typeof m.backchannel_logout_uri === 'string' ? { backchannel_logout_uri: m.backchannel_logout_uri } : {}),
    require_pushed_authorization_requests: m.require_pushed_authorization_requests === true,
    dpop_bound_access_tokens: m.dpop_bound_access_tokens === true,
    ...(typeof m.jwks_uri === 'string' ? { jwks_uri: m.jwks_uri } : {}),
    ...(m.jwks !== undefined ? { jwks: m.jwks as { keys: Record<string, unknown>[] } } : {}),
    require_signed_request_object: m.require_signed_request_object === true,
    subject_type: m.subject_type === 'pairwise' ? 'pairwise' : 'public',
    ...(typeof m.sector_identifier_uri === 'string' ? { sector_identifier_uri: m.sector_identifier_uri } : {}),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** Inserts a client; a confidential one (secret-based authentication) gets a new secret, returned once. */
export async function insertClient(
  db: Db,
  box: SecretBox,
  clientId: string,
  metadata: Record<string, unknown>,
  /** The secret to use instead of a new one (the operator's MONBAN_ADMIN_CLIENT_SECRET). */
  givenSecret?: string,
): Promise<ClientWithSecret> {
  const usesSecret = metadata.token_endpoint_auth_method === 'client_secret_basic';
  const secret = usesSecret ? (givenSecret ?? newClientSecret()) : undefined;
  const row = await db
    .insertInto('oidc_clients')
    .values({
      client_id: clientId,
      client_name: String(metadata.client_name),
      client_secret_sealed: secret ? box.seal(secret, secretContext(clientId)) : null,
      metadata: JSON.stringify(metadata),
      updated_at: new Date(),
    })
    .returning(['client_id', 'metadata', 'created_at', 'updated_at'])
    .executeTakeFirstOrThrow();
  return { ...clientView(row), ...(secret ? { client_secret: secret } : {}) };
}

export async function findClientRow(db: Db, clientId: string, lock = false): Promise<ClientRowPart | undefined> {
  let query = db
    .selectFrom('oidc_clients')
    .select(['client_id', 'metadata', 'created_at', 'updated_at'])
    .where('client_id', '=', clientId);
  if (lock) query = query.forUpdate();
  return query.executeTakeFirst();
}

/** Replaces a client's metadata (and its secret when `secret` is given; null removes it). */
export async function updateClient(
  db: Db,
  box: SecretBox,
  clientId: string,
  change: { metadata?: Record<string, unknown>; secret?: string | null },
): Promise<ClientView | undefined> {
  const row = await db
    .updateTable('oidc_clients')
    .set({
      updated_at: new Date(),
      ...(change.metadata
        ? { metadata: JSON.stringify(change.metadata), client_name: String(change.metadata.client_name) }
        : {}),
      ...(change.secret !== undefined
        ? { client_secret_sealed: change.secret === null ? null : box.seal(change.secret, secretContext(clientId)) }
        : {}),
    })
    .where('client_id', '=', clientId)
    .returning(['client_id', 'metadata', 'created_at', 'updated_at'])
    .executeTakeFirst();
  return row ? clientView(row) : undefined;
}

/** Clients ordered by client_id, after a keyset cursor (a client_id). */
export async function listClients(db: Db, page: { after?: string | undefined; limit: number }): Promise<ClientView[]> {
  let query = db
    .selectFrom('oidc_clients')
    .select(['client_id', 'metadata', 'created_at', 'updated_at'])
    .orderBy('client_id')
    .limit(page.limit);
  if (page.after !== undefined) query = query.where('client_id', '>', page.after);
  return (await query.execute()).map(clientView);
}

export async function countAdminClients(db: Db): Promise<number> {
  const row = await db
    .selectFrom('oidc_clients')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where(sql<boolean>`(metadata->>'admin')::boolean is true`)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function deleteClient(db: Db, clientId: string): Promise<boolean> {
  const result = await db.deleteFrom('oidc_clients').where('client_id', '=', clientId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Tells every process that a client changed (created, updated or deleted): they drop their cached copy. */
export function invalidateClient(changes: ChangeFeed, clientId: string): Promise<void> {
  return changes.publish('clients', clientId);
}

/** A client as stored: its metadata, and its secret still sealed. */
interface StoredClient {
  metadata: Record<string, unknown>;
  sealedSecret: string | null;
}

interface Cached {
  stored: Promise<StoredClient | undefined>;
  /** What oidc-provider gets, the secret opened: made on the first find. */
  payload?: Promise<AdapterPayload | undefined>;
  expiresAt: number;
}

/** What a page shows of a client: its name (pages never need its secret). */
export interface ClientNames {
  displayName(clientId: string): Promise<string | undefined>;
}

/** Enough for any real deployment; beyond it the oldest entries go (and unknown ids cannot fill memory). */
const MAX_CACHED_CLIENTS = 10_000;

/**
 * oidc-provider's Client model reads registered clients from PostgreSQL through this. Each
 * client is read once and its secret decrypted on the first find, then kept in this process
 * until a change is published (invalidateClient, ChangeFeed) or, as a safety net, for `ttlMs`.
 * Unknown ids are kept too (a new client publishes its id), so a flood of made-up client_ids
 * costs one query each. The login pages read a client's name from the same copy, without
 * opening its secret.
 */
export class ClientAdapter implements Adapter, ClientNames {
  readonly #cache = new BoundedMap<string, Cached>(MAX_CACHED_CLIENTS);

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly ttlMs = 0,
  ) {}

  /** Drops one client from this process's cache, or every client when `id` is undefined. */
  invalidate(id: string | undefined): void {
    if (id === undefined) this.#cache.clear();
    else this.#cache.delete(id);
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    const entry = this.#entry(id);
    if (!entry.payload) {
      const payload = entry.stored.then((stored) => stored && this.#open(id, stored));
      entry.payload = payload;
      payload.catch(() => {
        if (entry.payload === payload) delete entry.payload;
      });
    }
    return entry.payload;
  }

  async displayName(id: string): Promise<string | undefined> {
    const stored = await this.#entry(id).stored;
    return stored && (typeof stored.metadata.client_name === 'string' ? stored.metadata.client_name : id);
  }

  /** Whether the client exists and is an admin client now: the admin API asks at every request. */
  async isAdmin(id: string): Promise<boolean> {
    const stored = await this.#entry(id).stored;
    return stored?.metadata.admin === true;
  }

  /** The cached copy of a client, or a fresh read (kept for `ttlMs`). */
  #entry(id: string): Cached {
    const now = Date.now();
    const cached = this.#cache.get(id);
    if (cached && cached.expiresAt > now) return cached;
    const entry: Cached = { stored: this.#read(id), expiresAt: now + this.ttlMs };
    if (this.ttlMs <= 0) return entry;
    // The promise is cached, so parallel requests for a client share one read. An invalidation
    // while it runs removes this entry, and the next find reads again.
    this.#cache.set(id, entry);
    entry.stored.catch(() => {
      if (this.#cache.get(id) === entry) this.#cache.delete(id);
    });
    return entry;
  }

  async #read(id: string): Promise<StoredClient | undefined> {
    const row = await this.db
      .selectFrom('oidc_clients')
      .select(['metadata', 'client_secret_sealed'])
      .where('client_id', '=', id)
      .executeTakeFirst();
    return row && { metadata: row.metadata, sealedSecret: row.client_secret_sealed };
  }

  #open(id: string, stored: StoredClient): AdapterPayload {
    const payload = { ...stored.metadata, client_id: id } as AdapterPayload;
    if (stored.sealedSecret) payload.client_secret = this.box.openText(stored.sealedSecret, secretContext(id));
    return payload;
  }

  upsert(): Promise<void> {
    return Promise.reject(new Error('clients are managed with the admin CLI or API'));
  }

  findByUid(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  findByUserCode(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  async consume(): Promise<void> {}
  async destroy(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
}
