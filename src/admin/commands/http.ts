import { AdminApiRefusal, type AdminBackend } from './backend.js';

/** How the CLI reaches a running server's admin API. */
export interface AdminEndpoint {
  issuer: string;
  client_id: string;
  client_secret: string;
}

const SCOPES =
  'admin:clients.read admin:clients.write admin:users.read admin:users.write admin:audit.read admin:keys.write ' +
  'admin:companies.read admin:companies.write';

/** The admin API of a running server, with a client_credentials token for <issuer>/admin (RFC 8707). */
export class HttpBackend implements AdminBackend {
  #token: string | undefined;
  readonly via: string;
  constructor(private readonly endpoint: AdminEndpoint) {
    this.via = endpoint.issuer;
  }

  async #accessToken(): Promise<string> {
    if (this.#token) return this.#token;
    const { issuer, client_id, client_secret } = this.endpoint;
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        // RFC 6749 2.3.1: the id and secret are form-encoded before Basic.
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(client_id)}:${encodeURIComponent(client_secret)}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${issuer}/admin`, scope: SCOPES }),
    });
    const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
    if (!res.ok || !body.access_token)
      throw new AdminApiRefusal(
        res.status,
        body.error ?? String(res.status),
        `the admin client was refused a token: ${body.error_description ?? body.error ?? res.status}`,
      );
    this.#token = body.access_token;
    return this.#token;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.endpoint.issuer}/admin/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await this.#accessToken()}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      const problem = (parsed ?? {}) as { code?: string; title?: string; detail?: string };
      throw new AdminApiRefusal(
        res.status,
        problem.code ?? String(res.status),
        problem.detail ?? problem.title ?? `HTTP ${res.status}`,
      );
    }
    return parsed as T;
  }
}
