/**
 * What a CLI command talks to: the admin API's requests and answers, either over HTTP to a
 * running server (http.ts) or run in this process on the database (direct.ts). Each command is
 * written once, against this.
 */
export interface AdminBackend {
  /** `path` is under /admin/api/v1, with its query string; the answer's body, or AdminApiRefusal. */
  call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T>;
  /** How the CLI reached Monban, for messages: 'database' or the server's issuer. */
  readonly via: string;
}

/** The admin API refused (a problem+json answer, or the same refusal in process): shown as one line. */
export class AdminApiRefusal extends Error {
  override name = 'AdminApiRefusal';
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(`${detail} (${code})`);
  }
}

/** Every item of a list, following `next` (200 a page). */
export async function allItems<T>(api: AdminBackend, path: string): Promise<T[]> {
  const items: T[] = [];
  let next: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: { items: T[]; next: string | null } = await api.call(
      'GET',
      `${path}${sep}limit=200${next ? `&after=${encodeURIComponent(next)}` : ''}`,
    );
    items.push(...page.items);
    next = page.next;
  } while (next);
  return items;
}
