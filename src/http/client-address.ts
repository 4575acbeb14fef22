import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/**
 * Which proxies in front of Monban may speak for the client in X-Forwarded-For:
 * - false: none; the client is the socket's peer and X-Forwarded-For is ignored;
 * - true or N: the last 1 (or N) hops are trusted proxies;
 * - a list of addresses / CIDR ranges (or proxy-addr's names loopback, linklocal, uniquelocal):
 *   any hop in those ranges is a trusted proxy.
 */
export type TrustProxy = boolean | number | string[];

/**
 * The hop-by-hop trust test (proxy-addr's parser for the ranges). The walk goes from the right,
 * socket peer first (hop 0), then X-Forwarded-For right to left, and stops at the first hop it
 * does not trust (or the leftmost entry): everything left of that hop was written by the client and is never believed (OWASP ASVS 4.0
 * 14.5.x; "X-Forwarded-For" in MDN: use the rightmost untrusted address).
 */
export function proxyTrust(trust: TrustProxy): (address: string, hop: number) => boolean {
  if (trust === false || trust === 0) return () => false;
  if (trust === true) return (_address, hop) => hop < 1;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return proxyaddr.compile(trust);
}

/** IPv4 clients of a dual-stack socket show up as ::ffff:a.b.c.d; people (and counters) know them as a.b.c.d. */
function plainAddress(address: string): string {
  return address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
}

/**
 * The client's address: the socket's peer, then X-Forwarded-For from the right, up to the first
 * hop `trust` does not trust (proxy-addr's walk, on the two values it reads from a request).
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trust: (address: string, hop: number) => boolean,
): string {
  const chain = [
    peer ?? '',
    ...[forwardedFor ?? []]
      .flat()
      .join(',')
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean)
      .reverse(),
  ];
  let client = '';
  for (const [hop, address] of chain.entries()) {
    client = address;
    if (!trust(address, hop)) break;
  }
  return plainAddress(client);
}

const ADDRESS = Symbol('monban.clientAddress');

interface KoaLike {
  request: object;
}

/**
 * Makes `ctx.ip` the client's address as `trust` allows, for every context the app creates,
 * including the ones oidc-provider makes for itself (its session and interaction helpers call
 * app.createContext). Koa's own `ip` takes the leftmost X-Forwarded-For entry, which the client
 * writes, so rate limits, the audit log and the session list would all believe a forged header.
 * Koa documents app.request as the prototype to extend.
 */
export function installClientAddress(app: KoaLike, trust: TrustProxy): void {
  const trusted = proxyTrust(trust);
  Object.defineProperty(app.request, 'ip', {
    configurable: true,
    get(this: { req: IncomingMessage; [ADDRESS]?: string }) {
      this[ADDRESS] ??= clientAddress(this.req.socket.remoteAddress, this.req.headers['x-forwarded-for'], trusted);
      return this[ADDRESS];
    },
    set(this: { [ADDRESS]?: string }, value: string) {
      this[ADDRESS] = value;
    },
  });
}
