import { z } from 'zod';
import { AppError } from '../../errors.js';
import {
  AUTH_METHODS,
  type ClientServices,
  createClientFrom,
  getClient,
  GRANT_TYPES,
  listClientsPage,
  removeClient,
  rotateClientSecret,
  SUBJECT_TYPES,
  updateClientSettings,
} from '../clients.js';
import type { SessionRevoker } from '../../identity/accounts/access.js';
import { defineOperation, LINK_HEADER, listOf, pageQuery, type Operation } from './operation.js';
import { pageReply } from './paging.js';

const uri = z.string().min(1).max(2000);
const uris = z.array(uri).max(20);
const grantTypes = z.array(z.enum(GRANT_TYPES)).max(GRANT_TYPES.length);
const jwks = z
  .strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(10) })
  .describe('the public keys the client signs with: private_key_jwt assertions and request objects (RFC 7591 jwks)');
const jwksUri = uri.describe('an https address of the public keys (RFC 7591 jwks_uri), instead of jwks');
const requireSignedRequestObject = z
  .boolean()
  .describe('RFC 9101: authorization requests only as a request object signed with the keys');
const name = z.string().trim().min(1).max(200);

/** POST /clients: RFC 7591 metadata names, plus `admin`. */
export const ClientCreateSchema = z.strictObject({
  client_name: name,
  redirect_uris: uris.default([]),
  post_logout_redirect_uris: uris.default([]),
  grant_types: grantTypes
    .default([])
    .describe('empty: authorization_code and refresh_token when there are redirect URIs'),
  token_endpoint_auth_method: z.enum(AUTH_METHODS).default('client_secret_basic'),
  jwks: jwks.optional(),
  jwks_uri: jwksUri.optional(),
  require_signed_request_object: requireSignedRequestObject.default(false),
  backchannel_logout_uri: uri
    .optional()
    .describe(
      'OIDC Back-Channel Logout 1.0: where a logout token is POSTed when a session the client took part in ends',
    ),
  require_pushed_authorization_requests: z
    .boolean()
    .default(false)
    .describe('RFC 9126: authorization requests only through PAR'),
  dpop_bound_access_tokens: z.boolean().default(false).describe('RFC 9449: access tokens only bound to a DPoP key'),
  subject_type: z
    .enum(SUBJECT_TYPES)
    .default('public')
    .describe("OIDC Core 8.1: pairwise gives the client its own `sub` for each user, unlike other clients'"),
  sector_identifier_uri: uri
    .optional()
    .describe(
      'OIDC Core 8.1: an https address answering a JSON array of the redirect URIs; its host is the pairwise sector (needed when the redirect URIs span more than one host)',
    ),
  admin: z.boolean().default(false).describe('may get tokens for the admin API (client_credentials only)'),
});

export const ClientUpdateSchema = z.strictObject({
  client_name: name.optional(),
  redirect_uris: uris.optional(),
  post_logout_redirect_uris: uris.optional(),
  grant_types: grantTypes.optional(),
  jwks: jwks.nullable().optional().describe('null removes them'),
  jwks_uri: jwksUri.nullable().optional().describe('null removes it'),
  require_signed_request_object: requireSignedRequestObject.optional(),
  backchannel_logout_uri: uri.nullable().optional().describe('null removes it'),
  require_pushed_authorization_requests: z.boolean().optional(),
  dpop_bound_access_tokens: z.boolean().optional(),
  subject_type: z
    .enum(SUBJECT_TYPES)
    .optional()
    .describe('changing it changes the `sub` the client knows its users by'),
  sector_identifier_uri: uri.nullable().optional().describe('null removes it'),
  admin: z.boolean().optional(),
});

export const ClientSchema = z.strictObject({
  client_id: z.string(),
  client_name: z.string(),
  redirect_uris: z.array(z.string()),
  post_logout_redirect_uris: z.array(z.string()),
  grant_types: z.array(z.string()),
  token_endpoint_auth_method: z.string(),
  backchannel_logout_uri: z.string().optional(),
  jwks: z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
  jwks_uri: z.string().optional(),
  require_signed_request_object: z.boolean(),
  require_pushed_authorization_requests: z.boolean(),
  dpop_bound_access_tokens: z.boolean(),
  subject_type: z.enum(SUBJECT_TYPES),
  sector_identifier_uri: z.string().optional(),
  admin: z.boolean(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});

export const ClientWithSecretSchema = ClientSchema.extend({
  client_secret: z.string().optional().describe('shown once: at creation and at rotation'),
});

const clientId = (params: Record<string, string>) => params.client_id ?? '';

export function clientOperations(services: ClientServices & { revoker: SessionRevoker }): Operation[] {
  const by = (caller: { clientId: string }, meta: Parameters<typeof createClientFrom>[2]['meta']) => ({
    actor: caller.clientId,
    meta,
  });
  return [
    defineOperation({
      method: 'post',
      path: '/clients',
      operationId: 'createClient',
      summary: "Register a client; a confidential client's secret is in this answer only",
      tag: 'clients',
      scope: 'admin:clients.write',
      body: ClientCreateSchema,
      idempotent: true,
      responses: {
        201: {
          description: 'created',
          schema: ClientWithSecretSchema,
          headers: { Location: { description: 'the new client', schema: { type: 'string' } } },
        },
      },
      handle: async ({ body, caller, meta }) => {
        const created = await createClientFrom(services, body, by(caller, meta));
        return { status: 201, body: created, headers: { location: `/admin/api/v1/clients/${created.client_id}` } };
      },
    }),
    defineOperation({
      method: 'get',
      path: '/clients',
      operationId: 'listClients',
      summary: 'Clients, ordered by client_id',
      tag: 'clients',
      scope: 'admin:clients.read',
      query: pageQuery({}),
      responses: { 200: { description: 'a page', schema: listOf(ClientSchema), headers: LINK_HEADER } },
      handle: async ({ query, ctx }) => {
        const rows = await listClientsPage(services, { after: query.after, limit: query.limit + 1 });
        return pageReply(ctx, rows, query.limit, (c) => c.client_id);
      },
    }),
    defineOperation({
      method: 'get',
      path: '/clients/{client_id}',
      operationId: 'getClient',
      summary: 'One client',
      tag: 'clients',
      scope: 'admin:clients.read',
      responses: { 200: { description: 'the client', schema: ClientSchema } },
      handle: async ({ params }) => ({ status: 200, body: await getClient(services, clientId(params)) }),
    }),
    defineOperation({
      method: 'patch',
      path: '/clients/{client_id}',
      operationId: 'updateClient',
      summary: "Change a client's name, URIs, grants or admin flag (same checks as at creation)",
      tag: 'clients',
      scope: 'admin:clients.write',
      body: ClientUpdateSchema,
      responses: { 200: { description: 'the client as it is now', schema: ClientSchema } },
      handle: async ({ params, body, caller, meta }) => ({
        status: 200,
        body: await updateClientSettings(services, clientId(params), body, by(caller, meta)),
      }),
    }),
    defineOperation({
      method: 'delete',
      path: '/clients/{client_id}',
      operationId: 'deleteClient',
      summary: 'Delete a client',
      tag: 'clients',
      scope: 'admin:clients.write',
      responses: { 204: { description: 'deleted' } },
      handle: async ({ params, caller, meta }) => {
        if (!(await removeClient(services, clientId(params), by(caller, meta)))) throw new AppError('NOT_FOUND');
        return { status: 204 };
      },
    }),
    defineOperation({
      method: 'post',
      path: '/clients/{client_id}/secret',
      operationId: 'rotateClientSecret',
      summary: 'A new secret for a client_secret_basic client; the old one stops working at once',
      tag: 'clients',
      scope: 'admin:clients.write',
      idempotent: true,
      responses: { 200: { description: 'the client with its new secret', schema: ClientWithSecretSchema } },
      handle: async ({ params, caller, meta }) => ({
        status: 200,
        body: await rotateClientSecret(services, clientId(params), by(caller, meta)),
      }),
    }),
  ];
}
