import Provider, { type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Config } from '../config/schema.js';
import type { ChangeFeed } from '../events/change-feed.js';
import type { SecretBox } from '../security/secret-box.js';
import type { Db } from '../db/database.js';
import { AppError } from '../errors.js';
import type { RequestMeta } from '../request-meta.js';
import { recordAudit } from '../security/audit.js';
import { revokeClientGrants, type SessionRevoker } from '../identity/accounts/access.js';
import { loadSigningJwks } from '../oidc/keys.js';
import { sectorIdentifierProblem } from './sector-identifier.js';
import {
  clientView,
  deleteClient,
  findClientRow,
  insertClient,
  invalidateClient,
  listClients,
  newClientId,
  newClientSecret,
  updateClient,
  type ClientView,
  type ClientWithSecret,
} from '../oidc/clients/repository.js';

/** Client settings the CLI or oidc-provider's own check refuse; the API answers CLIENT_METADATA_INVALID. */
export class AdminInputError extends Error {
  override name = 'AdminInputError';
}

/** RFC 8628 3.4: the device authorization grant (CLIs, TVs), by its registered name. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', DEVICE_CODE_GRANT] as const;
export const AUTH_METHODS = ['client_secret_basic', 'private_key_jwt', 'none'] as const;
export const SUBJECT_TYPES = ['public', 'pairwise'] as const;

/** A client's settings, by their RFC 7591 names (what the API takes; the CLI's flags map onto it). */
export interface ClientInput {
  client_name: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  /** Empty: authorization_code + refresh_token when there are redirect URIs. */
  grant_types: (typeof GRANT_TYPES)[number][];
  token_endpoint_auth_method: (typeof AUTH_METHODS)[number];
  /** The client's public keys: for private_key_jwt (RFC 7523) and signed request objects (RFC 9101). */
  jwks?: { keys: Record<string, unknown>[] } | null | undefined;
  /** Where oidc-provider reads the client's public keys instead (RFC 7591 2), https. */
  jwks_uri?: string | null | undefined;
  /** RFC 9101 10.5: authorization requests only as a request object signed with the client's keys. */
  require_signed_request_object?: boolean | undefined;
  /** OIDC Back-Channel Logout 1.0: where Monban POSTs a logout token when a session ends. */
  backchannel_logout_uri?: string | null | undefined;
  /** RFC 9126 6: authorization requests only through PAR. */
  require_pushed_authorization_requests?: boolean | undefined;
  /** RFC 9449 5.2: access tokens only bound to a DPoP key. */
  dpop_bound_access_tokens?: boolean | undefined;
  /** OIDC Core 8.1: pairwise gives the client a `sub` of its own for each user (oidc/pairwise.ts). */
  subject_type?: (typeof SUBJECT_TYPES)[number] | undefined;
  /** OIDC Core 8.1: the pairwise sector, needed when the redirect URIs span more than one host. */
  sector_identifier_uri?: string | null | undefined;
  admin: boolean;
}

/** The CLI's `client create` flags. */
export interface ClientRegistration {
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  /** Public clients (SPAs, native apps) have no secret and authenticate with PKCE alone. */
  isPublic?: boolean;
  /**
   * Extra grants beyond authorization_code + refresh_token: client_credentials, or the device
   * code grant (which brings refresh_token along).
   */
  extraGrants?: string[];
  backchannelLogoutUri?: string | undefined;
  subjectType?: string | undefined;
  sectorIdentifierUri?: string | undefined;
  admin?: boolean;
}

/** What managing clients needs (the server's and the CLI's services both have it). */
export interface ClientServices {
  config: Readonly<Config>;
  db: Db;
  box: SecretBox;
  changes: ChangeFeed;
}

/** Who made a change, for the audit log: an admin client's client_id, or 'cli'. */
export interface Actor {
  actor: string;
  meta?: RequestMeta | undefined;
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

/** The CLI's --subject-type. */
export function subjectType(value: string): (typeof SUBJECT_TYPES)[number] {
  const known = SUBJECT_TYPES.find((t) => t === value);
  if (!known) throw new AdminInputError(`unknown subject type: ${value} (public or pairwise)`);
  return known;
}

/**
 * OIDC Core 8.1: a pairwise client is one users log in to (its sector is its redirect URIs'
 * host); redirect URIs on several hosts need a sector_identifier_uri naming the sector.
 */
function checkSubjectType(input: ClientInput, interactive: boolean, grants: Set<string>): void {
  const sector = input.sector_identifier_uri;
  if (input.subject_type !== 'pairwise') {
    if (sector) throw new AdminInputError('a sector_identifier_uri is only for subject_type pairwise');
    return;
  }
  if (!interactive) throw new AdminInputError('subject_type pairwise needs the authorization_code grant');
  // oidc-provider takes a device flow client's sector from its jwks_uri (RFC 8628 has no redirect URI).
  if (grants.has(DEVICE_CODE_GRANT))
    throw new AdminInputError('subject_type pairwise is not available with the device code grant');
  const hosts = new Set(input.redirect_uris.map((uri) => new URL(uri).host));
  if (!sector && hosts.size > 1)
    throw new AdminInputError(
      'redirect URIs on more than one host need a sector_identifier_uri listing them (subject_type pairwise)',
    );
}

export function inputFromRegistration(registration: ClientRegistration): ClientInput {
  const grants = new Set<string>(registration.extraGrants ?? []);
  for (const grant of grants) {
    if (grant !== 'client_credentials' && grant !== DEVICE_CODE_GRANT)
      throw new AdminInputError(`unsupported grant: ${grant} (client_credentials or ${DEVICE_CODE_GRANT})`);
  }
  if (grants.has(DEVICE_CODE_GRANT)) grants.add('refresh_token');
  if (registration.redirectUris.length > 0) {
    grants.add('authorization_code');
    grants.add('refresh_token');
  }
  return {
    client_name: registration.name,
    redirect_uris: registration.redirectUris,
    post_logout_redirect_uris: registration.postLogoutRedirectUris ?? [],
    grant_types: [...grants] as ClientInput['grant_types'],
    token_endpoint_auth_method: registration.isPublic ? 'none' : 'client_secret_basic',
    backchannel_logout_uri: registration.backchannelLogoutUri,
    ...(registration.subjectType !== undefined ? { subject_type: subjectType(registration.subjectType) } : {}),
    ...(registration.sectorIdentifierUri !== undefined
      ? { sector_identifier_uri: registration.sectorIdentifierUri }
      : {}),
    admin: registration.admin ?? false,
  };
}

/** JWK members only a private or symmetric key has (RFC 7518 6.2.2, 6.3.2, 6.4.1). */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/**
 * A client's keys are public keys (RSA, EC or OKP) it signs with: request objects (RFC 9101) and
 * private_key_jwt assertions (RFC 7523). Either listed (jwks) or at an https address (jwks_uri),
 * which oidc-provider reads and caches itself, refusing private and loopback addresses.
 */
function checkKeys(input: ClientInput): void {
  if (input.jwks && input.jwks_uri) throw new AdminInputError('jwks or jwks_uri, not both');
  for (const key of input.jwks?.keys ?? []) {
    if (!['RSA', 'EC', 'OKP'].includes(String(key.kty)))
      throw new AdminInputError('jwks holds public RSA, EC or OKP keys only');
    if (PRIVATE_JWK_MEMBERS.some((member) => member in key))
      throw new AdminInputError('jwks must hold public keys only: a private key was given');
  }
  if (input.jwks_uri) {
    let url: URL;
    try {
      url = new URL(input.jwks_uri);
    } catch {
      throw new AdminInputError(`jwks_uri is not an absolute URL: ${input.jwks_uri}`);
    }
    if (url.protocol !== 'https:' || url.hash)
      throw new AdminInputError(`jwks_uri must be an https URL: ${input.jwks_uri}`);
  }
}

/** The rules every client follows, then the metadata oidc-provider reads. */
export function clientMetadata(input: ClientInput): Record<string, unknown> {
  if (!input.client_name.trim()) throw new AdminInputError('a client needs a name');
  const grants = new Set(input.grant_types);
  if (grants.size === 0 && input.redirect_uris.length > 0) {
    grants.add('authorization_code');
    grants.add('refresh_token');
  }
  if (grants.size === 0)
    throw new AdminInputError(
      'a client needs at least one redirect URI (or the client_credentials or device code grant)',
    );
  const interactive = grants.has('authorization_code');
  // A user logs in for the client: in a browser it redirects (code), or on another device (RFC 8628).
  const forUsers = interactive || grants.has(DEVICE_CODE_GRANT);
  if (interactive && input.redirect_uris.length === 0)
    throw new AdminInputError('the authorization_code grant needs at least one redirect URI');
  if (!interactive && input.redirect_uris.length > 0)
    throw new AdminInputError('redirect URIs need the authorization_code grant');
  if (grants.has('refresh_token') && !forUsers)
    throw new AdminInputError('the refresh_token grant needs the authorization_code or device code grant');
  const method = input.token_endpoint_auth_method;
  if (method === 'none' && grants.has('client_credentials'))
    throw new AdminInputError('a public client cannot use client_credentials');
  checkKeys(input);
  const hasKeys = Boolean(input.jwks?.keys.length || input.jwks_uri);
  if (method === 'private_key_jwt' && !hasKeys)
    throw new AdminInputError("private_key_jwt needs the client's public keys (jwks or jwks_uri)");
  if (input.require_signed_request_object && !hasKeys)
    throw new AdminInputError("require_signed_request_object needs the client's public keys (jwks or jwks_uri)");
  if (input.require_signed_request_object && !interactive)
    throw new AdminInputError('require_signed_request_object needs the authorization_code grant');
  // Admin clients act for themselves (client_credentials) and must prove who they are.
  if (input.admin && (forUsers || !grants.has('client_credentials') || method === 'none'))
    throw new AdminInputError('an admin client is a confidential client with the client_credentials grant only');
  [...input.redirect_uris, ...input.post_logout_redirect_uris].forEach(checkRedirectUri);
  checkSubjectType(input, interactive, grants);
  const backchannel = input.backchannel_logout_uri;
  if (backchannel) {
    if (!interactive) throw new AdminInputError('a backchannel_logout_uri needs the authorization_code grant');
    checkRedirectUri(backchannel);
  }
  return {
    client_name: input.client_name.trim(),
    redirect_uris: input.redirect_uris,
    post_logout_redirect_uris: input.post_logout_redirect_uris,
    grant_types: GRANT_TYPES.filter((g) => grants.has(g)),
    response_types: interactive ? ['code'] : [],
    token_endpoint_auth_method: method,
    ...(input.jwks ? { jwks: input.jwks } : {}),
    ...(input.jwks_uri ? { jwks_uri: input.jwks_uri } : {}),
    ...(input.require_signed_request_object ? { require_signed_request_object: true } : {}),
    // Logout tokens always carry the sid, so ID tokens carry it too (Back-Channel Logout 1.0 2.2).
    ...(backchannel ? { backchannel_logout_uri: backchannel, backchannel_logout_session_required: true } : {}),
    ...(input.require_pushed_authorization_requests ? { require_pushed_authorization_requests: true } : {}),
    ...(input.dpop_bound_access_tokens ? { dpop_bound_access_tokens: true } : {}),
    ...(input.subject_type === 'pairwise' ? { subject_type: 'pairwise' } : {}),
    ...(input.sector_identifier_uri ? { sector_identifier_uri: input.sector_identifier_uri } : {}),
    admin: input.admin,
  };
}

/** One client, for the probe below; nothing is ever stored. */
function probeAdapter(clientId: string, payload: Record<string, unknown>): Adapter {
  return {
    find: (id) => Promise.resolve(id === clientId ? (payload as AdapterPayload) : undefined),
    upsert: () => Promise.resolve(),
    findByUserCode: () => Promise.resolve(undefined),
    findByUid: () => Promise.resolve(undefined),
    consume: () => Promise.resolve(),
    destroy: () => Promise.resolve(),
    revokeByGrantId: () => Promise.resolve(),
  };
}

/** Runs oidc-provider's own client metadata validation on a throwaway instance. */
async function validateWithProvider(
  services: ClientServices,
  clientId: string,
  metadata: Record<string, unknown>,
): Promise<void> {
  // Served by an adapter, as the server's clients are, rather than as a static client (which
  // oidc-provider copies with structuredClone, and then checks the copy's jwks with a test of the
  // object's own realm's Object that fails under the test runner's VM contexts).
  const payload = { ...metadata, client_id: clientId, client_secret: 'x'.repeat(43) };
  const probe = new Provider(services.config.issuer, {
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      backchannelLogout: { enabled: true },
      deviceFlow: { enabled: true },
      requestObjects: { enabled: true },
    },
    subjectTypes: ['public', 'pairwise'],
    // Read by checkSector instead, with Monban's own rules (sector-identifier.ts).
    sectorIdentifierUriValidate: () => false,
    extraClientMetadata: { properties: ['admin'] },
    jwks: await loadSigningJwks(services.db, services.box),
    adapter: () => probeAdapter(clientId, payload),
  });
  try {
    await probe.Client.find(clientId);
  } catch (err) {
    const e = err as { error_description?: string; message: string };
    throw new AdminInputError(`invalid client: ${e.error_description ?? e.message}`);
  }
}

/** Reads the client's sector_identifier_uri (OIDC Core 8.1) when it has one. */
async function checkSector(metadata: Record<string, unknown>): Promise<void> {
  const uri = metadata.sector_identifier_uri;
  if (typeof uri !== 'string') return;
  const problem = await sectorIdentifierProblem(uri, metadata.redirect_uris as string[]);
  if (problem) throw new AdminInputError(problem);
}

/** The change and its audit event in one transaction; then every process drops the client. */
async function changeClient<T>(services: ClientServices, clientId: string, work: (trx: Db) => Promise<T>): Promise<T> {
  const result = await services.db.transaction().execute(work);
  await invalidateClient(services.changes, clientId);
  return result;
}

export async function createClientFrom(
  services: ClientServices,
  input: ClientInput,
  by: Actor,
): Promise<ClientWithSecret> {
  const metadata = clientMetadata(input);
  const clientId = newClientId();
  await validateWithProvider(services, clientId, metadata);
  await checkSector(metadata);
  // A process that was asked for this id before it existed remembers that it did not: hence the invalidation.
  return changeClient(services, clientId, async (trx) => {
    const created = await insertClient(trx, services.box, clientId, metadata);
    await recordAudit(
      trx,
      { type: 'admin.client.created', clientId, actor: by.actor, details: { name: created.client_name } },
      by.meta,
    );
    return created;
  });
}

/** The CLI's `client create`. */
export function createClient(
  services: ClientServices,
  registration: ClientRegistration,
  by: Actor = { actor: 'cli' },
): Promise<ClientWithSecret> {
  return createClientFrom(services, inputFromRegistration(registration), by);
}

export async function getClient(services: ClientServices, clientId: string): Promise<ClientView> {
  const row = await findClientRow(services.db, clientId);
  if (!row) throw new AppError('NOT_FOUND');
  return clientView(row);
}

export function listClientsPage(services: ClientServices, page: { after?: string | undefined; limit: number }) {
  return listClients(services.db, page);
}

/** What PATCH /clients/{id} may change. */
export type ClientChange = Partial<
  Pick<
    ClientInput,
    | 'client_name'
    | 'redirect_uris'
    | 'post_logout_redirect_uris'
    | 'grant_types'
    | 'admin'
    | 'jwks'
    | 'jwks_uri'
    | 'require_signed_request_object'
    | 'backchannel_logout_uri'
    | 'require_pushed_authorization_requests'
    | 'dpop_bound_access_tokens'
    | 'subject_type'
    | 'sector_identifier_uri'
  >
>;

export async function updateClientSettings(
  services: ClientServices,
  clientId: string,
  change: ClientChange,
  by: Actor,
): Promise<ClientView> {
  const current = await findClientRow(services.db, clientId);
  if (!current) throw new AppError('NOT_FOUND');
  const view = clientView(current);
  const input: ClientInput = {
    client_name: change.client_name ?? view.client_name,
    redirect_uris: change.redirect_uris ?? view.redirect_uris,
    post_logout_redirect_uris: change.post_logout_redirect_uris ?? view.post_logout_redirect_uris,
    grant_types: change.grant_types ?? (view.grant_types as ClientInput['grant_types']),
    token_endpoint_auth_method: view.token_endpoint_auth_method as ClientInput['token_endpoint_auth_method'],
    // Keys given one way replace keys given the other way; null removes them.
    jwks:
      change.jwks !== undefined
        ? change.jwks
        : change.jwks_uri
          ? undefined
          : (current.metadata.jwks as ClientInput['jwks']),
    jwks_uri: change.jwks_uri !== undefined ? change.jwks_uri : change.jwks ? undefined : view.jwks_uri,
    require_signed_request_object: change.require_signed_request_object ?? view.require_signed_request_object,
    backchannel_logout_uri:
      change.backchannel_logout_uri === undefined ? view.backchannel_logout_uri : change.backchannel_logout_uri,
    require_pushed_authorization_requests:
      change.require_pushed_authorization_requests ?? view.require_pushed_authorization_requests,
    dpop_bound_access_tokens: change.dpop_bound_access_tokens ?? view.dpop_bound_access_tokens,
    subject_type: change.subject_type ?? view.subject_type,
    // Back to public: the sector goes with it unless it is named again (and refused).
    sector_identifier_uri:
      change.sector_identifier_uri !== undefined
        ? change.sector_identifier_uri
        : change.subject_type === 'public'
          ? undefined
          : view.sector_identifier_uri,
    admin: change.admin ?? view.admin,
  };
  const metadata = clientMetadata(input);
  await validateWithProvider(services, clientId, metadata);
  // Read again only when it or the redirect URIs it must list change (a rename needs no RP server).
  if (
    metadata.sector_identifier_uri !== current.metadata.sector_identifier_uri ||
    JSON.stringify(metadata.redirect_uris) !== JSON.stringify(view.redirect_uris)
  )
    await checkSector(metadata);
  return changeClient(services, clientId, async (trx) => {
    const updated = await updateClient(trx, services.box, clientId, { metadata });
    if (!updated) throw new AppError('NOT_FOUND');
    await recordAudit(
      trx,
      { type: 'admin.client.updated', clientId, actor: by.actor, details: { fields: Object.keys(change).sort() } },
      by.meta,
    );
    return updated;
  });
}

/** A new secret for a confidential client (client_secret_basic); the old one stops working at once. */
export async function rotateClientSecret(
  services: ClientServices,
  clientId: string,
  by: Actor,
): Promise<ClientWithSecret> {
  const current = await findClientRow(services.db, clientId);
  if (!current) throw new AppError('NOT_FOUND');
  if (current.metadata.token_endpoint_auth_method !== 'client_secret_basic')
    throw new AdminInputError('only a client authenticating with client_secret_basic has a secret');
  const secret = newClientSecret();
  return changeClient(services, clientId, async (trx) => {
    const updated = await updateClient(trx, services.box, clientId, { secret });
    if (!updated) throw new AppError('NOT_FOUND');
    await recordAudit(trx, { type: 'admin.client.secret_rotated', clientId, actor: by.actor }, by.meta);
    return { ...updated, client_secret: secret };
  });
}

/**
 * Deletes a client, and with it every grant it holds (so every access and refresh token the
 * accounts gave it), in one transaction; then each account's stored tokens are cleaned up.
 */
export async function removeClient(
  services: ClientServices & { revoker?: SessionRevoker | undefined },
  clientId: string,
  by: Actor = { actor: 'cli' },
): Promise<boolean> {
  const accounts = await changeClient(services, clientId, async (trx) => {
    if (!(await deleteClient(trx, clientId))) return undefined;
    const touched = await revokeClientGrants(trx, clientId);
    await recordAudit(
      trx,
      { type: 'admin.client.deleted', clientId, actor: by.actor, details: { grants_revoked: touched.length } },
      by.meta,
    );
    return touched;
  });
  if (!accounts) return false;
  // The rows already say revoked; the clean-up only removes the stored tokens.
  for (const accountId of accounts) await services.revoker?.cleanUp(accountId);
  return true;
}

/** Every client, for the CLI's `client list`. */
export async function listAllClients(services: ClientServices): Promise<ClientView[]> {
  const all: ClientView[] = [];
  for (;;) {
    const page = await listClients(services.db, { after: all.at(-1)?.client_id, limit: 200 });
    all.push(...page);
    if (page.length < 200) return all;
  }
}
