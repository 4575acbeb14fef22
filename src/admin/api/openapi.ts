import { z } from 'zod';
import { ADMIN_SCOPES } from '../../oidc/resource-servers.js';
import type { Operation } from './operation.js';
import { ProblemSchema } from './problem.js';

type Json = Record<string, unknown>;

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output'): Json => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
  }) as Json;
  return rest;
};

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };
const problemResponse = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: PROBLEM_REF } },
});

/** The refusals every operation may give, by what it takes. */
function refusals(op: Operation): Record<string, unknown> {
  const out: Record<string, unknown> = {
    401: {
      ...problemResponse('no access token, or one that is not valid (WWW-Authenticate: Bearer)'),
      headers: { 'WWW-Authenticate': { schema: { type: 'string' } } },
    },
    403: problemResponse(`the token lacks ${op.scope} (insufficient_scope)`),
    429: problemResponse('too many requests from this IP or this admin client (adminApi.perIp, adminApi.perClient)'),
    503: problemResponse('PostgreSQL or Redis cannot be reached; try again later'),
  };
  if (op.body || op.query || op.idempotent) out[400] = problemResponse('a field is missing, invalid or unknown');
  if (op.path.includes('{')) out[404] = problemResponse('no such resource');
  if (op.body) {
    out[413] = problemResponse('the body is too large');
    out[415] = problemResponse('the body is not application/json');
  }
  if (op.idempotent) {
    out[409] = problemResponse('the first request with this Idempotency-Key is still running');
    out[422] = problemResponse('this Idempotency-Key was used with another request');
  }
  for (const [status, description] of Object.entries(op.refusals ?? {})) out[status] = problemResponse(description);
  return out;
}

function parametersOf(op: Operation): unknown[] {
  const params: unknown[] = [];
  for (const match of op.path.matchAll(/\{(\w+)\}/g))
    params.push({ name: match[1], in: 'path', required: true, schema: { type: 'string' } });
  if (op.query) {
    const input = jsonSchema(op.query, 'input') as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, schema] of Object.entries(input.properties ?? {})) {
      const { description, ...rest } = schema;
      params.push({
        name,
        in: 'query',
        required: input.required?.includes(name) ?? false,
        ...(description ? { description } : {}),
        schema: rest,
      });
    }
  }
  if (op.idempotent)
    params.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: 'a retry with the same key gets the first answer again (kept 24 hours)',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    });
  return params;
}

/**
 * The OpenAPI 3.1 document of the admin API, built from the operations' own zod schemas (the
 * ones that validate the requests), so the document and the server cannot disagree.
 */
export function openApiDocument(issuer: string, operations: Operation[]): Json {
  const paths: Record<string, Json> = {};
  for (const op of operations) {
    const responses: Record<string, unknown> = refusals(op);
    for (const [status, response] of Object.entries(op.responses)) {
      responses[status] = {
        description: response.description,
        ...(response.headers ? { headers: response.headers } : {}),
        ...(response.schema
          ? { content: { 'application/json': { schema: jsonSchema(response.schema, 'output') } } }
          : {}),
      };
    }
    (paths[op.path] ??= {})[op.method] = {
      operationId: op.operationId,
      summary: op.summary,
      tags: [op.tag],
      security: [{ adminToken: [op.scope] }],
      parameters: parametersOf(op),
      ...(op.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body, 'input') } } } }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Monban admin API',
      version: '1',
      description:
        `Access tokens come from ${issuer}/token with grant_type=client_credentials, ` +
        `resource=${issuer}/admin (RFC 8707) and the scopes needed; only admin clients get them. ` +
        'They are JWTs valid for 5 minutes. Errors are RFC 9457 problem details with a stable `code`.',
    },
    servers: [{ url: `${issuer}/admin/api/v1` }],
    tags: [...new Set(operations.map((op) => op.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: { Problem: jsonSchema(ProblemSchema, 'output') },
      securitySchemes: {
        adminToken: {
          type: 'oauth2',
          description: `client_credentials with resource=${issuer}/admin`,
          flows: {
            clientCredentials: {
              tokenUrl: `${issuer}/token`,
              scopes: Object.fromEntries(ADMIN_SCOPES.map((scope) => [scope, scope])),
            },
          },
        },
      },
    },
  };
}
