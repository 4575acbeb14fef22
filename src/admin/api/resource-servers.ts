import { z } from 'zod';
import type { ClientServices } from '../clients.js';
import {
  createResourceServer,
  deleteResourceServer,
  getResourceServer,
  listResourceServers,
  updateResourceServer,
} from '../resource-servers.js';
import { defineOperation, LINK_HEADER, listOf, pageQuery, type Operation } from './operation.js';
import { pageReply } from './paging.js';

const scope = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope token (RFC 6749 3.3)');
const scopes = z.array(scope).max(50);
const format = z
  .enum(['jwt', 'opaque'])
  .describe('jwt: RFC 9068, checked offline against the JWKS; opaque: introspected');
const lifetime = z.number().int().min(30).max(86_400).describe('seconds');
const name = z.string().trim().min(1).max(200);

export const ResourceServerCreateSchema = z.strictObject({
  identifier: z
    .string()
    .min(1)
    .max(2000)
    .describe('the resource indicator (RFC 8707), an absolute https URI: the `aud`'),
  name,
  scopes: scopes.default([]),
  access_token_format: format.default('jwt'),
  access_token_lifetime: lifetime.default(600),
});

export const ResourceServerUpdateSchema = z.strictObject({
  name: name.optional(),
  scopes: scopes.optional(),
  access_token_format: format.optional(),
  access_token_lifetime: lifetime.optional(),
});

export const ResourceServerSchema = z.strictObject({
  identifier: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  access_token_format: z.enum(['jwt', 'opaque']),
  access_token_lifetime: z.number().int(),
  client_id: z.string().describe("the resource server's own client: it may introspect the tokens issued for it"),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});

export const ResourceServerWithSecretSchema = ResourceServerSchema.extend({
  client_secret: z.string().describe("the resource server's client secret, shown once"),
});

const identifier = (params: Record<string, string>) => params.identifier ?? '';

/** /resource-servers: APIs that clients may ask tokens for (RFC 8707); {identifier} is URL-encoded. */
export function resourceServerOperations(services: ClientServices): Operation[] {
  const by = (caller: { clientId: string }, meta: Parameters<typeof createResourceServer>[2]['meta']) => ({
    actor: caller.clientId,
    meta,
  });
  return [
    defineOperation({
      method: 'post',
      path: '/resource-servers',
      operationId: 'createResourceServer',
      summary: 'Register an API as a resource server, with its own client (the secret is in this answer only)',
      tag: 'resource servers',
      scope: 'admin:clients.write',
      body: ResourceServerCreateSchema,
      idempotent: true,
      refusals: { 409: 'RESOURCE_SERVER_EXISTS: a resource server with this identifier is registered already' },
      responses: { 201: { description: 'registered', schema: ResourceServerWithSecretSchema } },
      handle: async ({ body, caller, meta }) => ({
        status: 201,
        body: await createResourceServer(services, body, by(caller, meta)),
      }),
    }),
    defineOperation({
      method: 'get',
      path: '/resource-servers',
      operationId: 'listResourceServers',
      summary: 'Resource servers, ordered by identifier',
      tag: 'resource servers',
      scope: 'admin:clients.read',
      query: pageQuery({}),
      responses: { 200: { description: 'a page', schema: listOf(ResourceServerSchema), headers: LINK_HEADER } },
      handle: async ({ query, ctx }) => {
        const rows = await listResourceServers(services, { after: query.after, limit: query.limit + 1 });
        return pageReply(ctx, rows, query.limit, (r) => r.identifier);
      },
    }),
    defineOperation({
      method: 'get',
      path: '/resource-servers/{identifier}',
      operationId: 'getResourceServer',
      summary: 'One resource server',
      tag: 'resource servers',
      scope: 'admin:clients.read',
      responses: { 200: { description: 'the resource server', schema: ResourceServerSchema } },
      handle: async ({ params }) => ({ status: 200, body: await getResourceServer(services, identifier(params)) }),
    }),
    defineOperation({
      method: 'patch',
      path: '/resource-servers/{identifier}',
      operationId: 'updateResourceServer',
      summary: 'Change its name, scopes, token format or lifetime (for tokens issued from now on)',
      tag: 'resource servers',
      scope: 'admin:clients.write',
      body: ResourceServerUpdateSchema,
      responses: { 200: { description: 'the resource server as it is now', schema: ResourceServerSchema } },
      handle: async ({ params, body, caller, meta }) => ({
        status: 200,
        body: await updateResourceServer(services, identifier(params), body, by(caller, meta)),
      }),
    }),
    defineOperation({
      method: 'delete',
      path: '/resource-servers/{identifier}',
      operationId: 'deleteResourceServer',
      summary: 'Delete a resource server and its own client',
      tag: 'resource servers',
      scope: 'admin:clients.write',
      responses: { 204: { description: 'deleted' } },
      handle: async ({ params, caller, meta }) => {
        await deleteResourceServer(services, identifier(params), by(caller, meta));
        return { status: 204 };
      },
    }),
  ];
}
