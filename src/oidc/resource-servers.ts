import { errors, type ResourceServer } from 'oidc-provider';
import type { Db } from '../db/database.js';

/**
 * The scopes of Monban's own admin API (`<issuer>/admin`). Issue 15 adds the companies scopes
 * here; a token carries only the scopes its client asked for out of this list.
 */
export const ADMIN_SCOPES = [
  'admin:clients.read',
  'admin:clients.write',
  'admin:users.read',
  'admin:users.write',
  'admin:audit.read',
  'admin:keys.write',
  'admin:companies.read',
  'admin:companies.write',
] as const;

export type AdminScope = (typeof ADMIN_SCOPES)[number];

/** The admin API's resource indicator (RFC 8707): the audience of its access tokens. */
export const adminResource = (issuer: string): string => `${issuer}/admin`;

/** Admin access tokens live 5 minutes: short enough that a removed admin client is out soon. */
export const ADMIN_TOKEN_SECONDS = 300;

/** What a token for a resource server may carry, and which clients may have one. */
export interface ResourceServerEntry {
  /** The resource indicator; the token's `aud`. */
  indicator: string;
  scopes: readonly string[];
  tokenSeconds: number;
  /** RFC 9068 JWT (checked offline against the JWKS) or opaque (checked by introspection); default jwt. */
  format?: 'jwt' | 'opaque';
  /** The resource server's own client, which may introspect the tokens issued for it. */
  introspectingClientId?: string;
  /** Whether `client` may get tokens for this resource at all (RFC 8707 2: invalid_target otherwise). */
  allows(client: { clientId: string; admin?: unknown }): boolean;
}

/**
 * Where oidc-provider's resourceIndicators look a resource indicator up. The admin API is built
 * in; issue 19's registered resource servers are another source with the same entries, added
 * with `withSource` (tokens for them are JWTs validated the same way).
 */
export class ResourceServers {
  readonly #sources: ((indicator: string) => Promise<ResourceServerEntry | undefined>)[] = [];

  constructor(builtIn: ResourceServerEntry[]) {
    const byIndicator = new Map(builtIn.map((entry) => [entry.indicator, entry]));
    this.#sources.push((indicator) => Promise.resolve(byIndicator.get(indicator)));
  }

  withSource(source: (indicator: string) => Promise<ResourceServerEntry | undefined>): this {
    this.#sources.push(source);
    return this;
  }

  async find(indicator: string): Promise<ResourceServerEntry | undefined> {
    for (const source of this.#sources) {
      const entry = await source(indicator);
      if (entry) return entry;
    }
    return undefined;
  }

  /**
   * oidc-provider's getResourceServerInfo: the resource's scopes and a short-lived JWT access
   * token (RFC 9068) signed with the provider's active key, or invalid_target for an unknown
   * resource or a client it does not allow.
   */
  async resourceServerInfo(indicator: string, client: { clientId: string; admin?: unknown }): Promise<ResourceServer> {
    const entry = await this.find(indicator);
    if (!entry || !entry.allows(client)) throw new errors.InvalidTarget('this client may not ask for that resource');
    const format = entry.format ?? 'jwt';
    return {
      scope: entry.scopes.join(' '),
      audience: entry.indicator,
      accessTokenTTL: entry.tokenSeconds,
      accessTokenFormat: format,
      ...(format === 'jwt' ? { jwt: { sign: { alg: 'RS256' as const } } } : {}),
    };
  }

  /**
   * RFC 7662 4: who may learn about a token. The client it was issued to, and the resource
   * server it was issued for (its own client), no one else: an API may check the tokens meant for
   * it, not those meant for another API.
   */
  async mayIntrospect(caller: string, token: { clientId?: string; aud?: unknown }): Promise<boolean> {
    if (token.clientId === caller) return true;
    const audiences = Array.isArray(token.aud) ? token.aud : [token.aud];
    for (const audience of audiences) {
      if (typeof audience !== 'string') continue;
      const entry = await this.find(audience);
      if (entry?.introspectingClientId === caller) return true;
    }
    return false;
  }
}

/**
 * The resource servers admins registered (admin API, src/admin/resource-servers.ts), read at
 * each token request that names one. Any client may ask for one of them except the resource
 * server's own client, which is there to introspect.
 */
export function registeredResourceServers(db: Db) {
  return async (indicator: string): Promise<ResourceServerEntry | undefined> => {
    const row = await db
      .selectFrom('resource_servers')
      .selectAll()
      .where('identifier', '=', indicator)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      indicator: row.identifier,
      scopes: row.scopes,
      tokenSeconds: row.access_token_seconds,
      format: row.access_token_format,
      introspectingClientId: row.client_id,
      allows: (client) => client.clientId !== row.client_id,
    };
  };
}

/** The built-in resource servers of an issuer: the admin API, for clients marked admin. */
export function builtInResourceServers(issuer: string): ResourceServers {
  return new ResourceServers([
    {
      indicator: adminResource(issuer),
      scopes: ADMIN_SCOPES,
      tokenSeconds: ADMIN_TOKEN_SECONDS,
      allows: (client) => client.admin === true,
    },
  ]);
}
