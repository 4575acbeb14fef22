import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import type { App } from '../../src/app.js';
import { createClient } from '../../src/admin/clients.js';
import { postAsClient } from './fixtures.js';
import { emailChangeOf } from '../../src/app.js';
import { adminOperations } from '../../src/admin/api/operations.js';
import { COMMANDS } from '../../src/admin/commands/commands.js';
import { DirectBackend } from '../../src/admin/commands/direct.js';

export const ADMIN_SCOPES_ALL = [
  'admin:clients.read',
  'admin:clients.write',
  'admin:users.read',
  'admin:users.write',
  'admin:audit.read',
  'admin:keys.write',
  'admin:companies.read',
  'admin:companies.write',
];

export interface AdminCredentials {
  client_id: string;
  client_secret?: string;
}

/** An admin client, registered as the CLI on the database does it. */
export async function registerAdminClient(app: App): Promise<Required<AdminCredentials>> {
  const client = await createClient(app, {
    name: 'Ops automation',
    redirectUris: [],
    extraGrants: ['client_credentials'],
    admin: true,
  });
  return { client_id: client.client_id, client_secret: client.client_secret ?? '' };
}

/** A token for the admin API: client_credentials with resource=<issuer>/admin (RFC 8707). */
export async function adminToken(
  issuer: string,
  client: AdminCredentials,
  scopes: string[] = ADMIN_SCOPES_ALL,
  resource: string | null = `${issuer}/admin`,
): Promise<Response> {
  return postAsClient(`${issuer}/token`, client, {
    grant_type: 'client_credentials',
    scope: scopes.join(' '),
    ...(resource ? { resource } : {}),
  });
}

export interface ApiAnswer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

interface Documented {
  method: string;
  template: string;
  pattern: RegExp;
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
}

/**
 * Calls the admin API and checks every answer against the OpenAPI document the server publishes:
 * its status is documented for that operation and its body matches the documented schema.
 */
export class AdminApiClient {
  token = '';
  #documented: Documented[] = [];
  #ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  #validators = new Map<string, ValidateFunction>();
  /** Every operation and status seen: the test of the document asserts each documented success was seen. */
  readonly seen = new Set<string>();

  constructor(readonly issuer: string) {}

  async loadDocument(): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.issuer}/admin/api/v1/openapi.json`);
    if (res.status !== 200) throw new Error(`openapi.json answered ${res.status}`);
    const doc = (await res.json()) as {
      paths: Record<string, Record<string, { responses: Documented['responses'] }>>;
      components: { schemas: Record<string, object> };
    };
    this.#ajv.addSchema({ $id: 'components', $defs: doc.components.schemas });
    for (const [template, methods] of Object.entries(doc.paths)) {
      const pattern = new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`);
      for (const [method, op] of Object.entries(methods))
        this.#documented.push({ method: method.toUpperCase(), template, pattern, responses: op.responses });
    }
    return doc;
  }

  async authenticate(client: AdminCredentials, scopes: string[] = ADMIN_SCOPES_ALL): Promise<void> {
    const res = await adminToken(this.issuer, client, scopes);
    if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${await res.text()}`);
    this.token = ((await res.json()) as { access_token: string }).access_token;
  }

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { body?: unknown; rawBody?: string; token?: string | null; headers?: Record<string, string> } = {},
  ): Promise<ApiAnswer<T>> {
    const token = options.token === undefined ? this.token : options.token;
    const headers: Record<string, string> = { ...options.headers };
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${this.issuer}/admin/api/v1${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as T) : (undefined as T);
    this.#check(method, path.split('?')[0] ?? path, res, parsed);
    return { status: res.status, headers: res.headers, body: parsed };
  }

  #check(method: string, path: string, res: Response, body: unknown): void {
    if (this.#documented.length === 0) return;
    const op = this.#documented.find((d) => d.method === method && d.pattern.test(path));
    if (!op) {
      if (res.status !== 404) throw new Error(`${method} ${path} is not in the OpenAPI document`);
      return;
    }
    const response = op.responses[String(res.status)];
    if (!response) throw new Error(`${method} ${op.template} answered ${res.status}, which is not documented`);
    this.seen.add(`${method} ${op.template} ${res.status}`);
    const [type, media] = Object.entries(response.content ?? {})[0] ?? [];
    if (!media) {
      if (body !== undefined) throw new Error(`${method} ${op.template} ${res.status} has a body, documented without`);
      return;
    }
    expectContentType(res, type ?? '');
    const key = `${method} ${op.template} ${res.status}`;
    let validate = this.#validators.get(key);
    if (!validate) {
      const schema = JSON.parse(
        JSON.stringify(media.schema).replaceAll('#/components/schemas/', 'components#/$defs/'),
      ) as object;
      validate = this.#ajv.compile(schema);
      this.#validators.set(key, validate);
    }
    if (!validate(body))
      throw new Error(
        `${key}: the body does not match the document: ${JSON.stringify(validate.errors)} in ${JSON.stringify(body)}`,
      );
  }

  /** Every documented success status of every operation. */
  documentedSuccesses(): string[] {
    return this.#documented.flatMap((op) =>
      Object.keys(op.responses)
        .filter((status) => status.startsWith('2'))
        .map((status) => `${op.method} ${op.template} ${status}`),
    );
  }
}

function expectContentType(res: Response, type: string): void {
  const actual = res.headers.get('content-type') ?? '';
  if (!actual.startsWith(type)) throw new Error(`content-type ${actual}, documented ${type}`);
}

/**
 * The admin CLI's commands as `npm run admin` runs them on the database (no HTTP), in this
 * process: `cli('company rename', id, '--from', a, '--to', b)` answers what the command prints.
 */
export function directCli(app: App) {
  const backend = new DirectBackend(adminOperations({ ...app, emailChange: emailChangeOf(app, app.revoker) }));
  return (command: string, ...args: string[]): Promise<unknown> => {
    const found = COMMANDS[command];
    if (!found) throw new Error(`no CLI command ${command}`);
    return found.run(backend, args, { rows() {} }, new AbortController().signal);
  };
}
