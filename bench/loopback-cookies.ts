/**
 * The cookies of one benchmark browser, which only ever speaks to one host on loopback: RFC 6265's
 * storage and retrieval for host-only cookies (no Domain, no public suffixes), keyed by name and
 * path. tough-cookie, which the test suites' browsers keep, parses every cookie and URL with the
 * public suffix list in mind: it was most of the load generator's CPU per login besides its
 * HTTP, on the cores the measured server shares. Secure is not enforced: loopback is a secure
 * context (W3C Secure Contexts 3.2), where browsers send such cookies over http too.
 */
interface StoredCookie {
  name: string;
  value: string;
  path: string;
  /** Milliseconds since the epoch; Infinity for a session cookie. */
  expires: number;
}

/** RFC 6265 5.1.4: the directory of the request path, "/" at the top. */
function defaultPath(pathname: string): string {
  const slash = pathname.lastIndexOf('/');
  return slash <= 0 ? '/' : pathname.slice(0, slash);
}

/** RFC 6265 5.1.4's path-match. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (!requestPath.startsWith(cookiePath)) return false;
  return requestPath.length === cookiePath.length || cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

/** RFC 6265 5.2: a Set-Cookie header's name, value, path and expiry (Max-Age over Expires). */
function parseSetCookie(header: string, requestPath: string, now: number): StoredCookie | undefined {
  const [pair = '', ...attributes] = header.split(';');
  const equals = pair.indexOf('=');
  if (equals <= 0) return undefined;
  const cookie: StoredCookie = {
    name: pair.slice(0, equals).trim(),
    value: pair.slice(equals + 1).trim(),
    path: defaultPath(requestPath),
    expires: Infinity,
  };
  let maxAge: number | undefined;
  for (const attribute of attributes) {
    const at = attribute.indexOf('=');
    const key = (at < 0 ? attribute : attribute.slice(0, at)).trim().toLowerCase();
    const value = at < 0 ? '' : attribute.slice(at + 1).trim();
    if (key === 'path' && value.startsWith('/')) cookie.path = value;
    else if (key === 'max-age' && /^-?\d+$/.test(value)) maxAge = Number(value);
    else if (key === 'expires' && maxAge === undefined) {
      const date = Date.parse(value);
      if (!Number.isNaN(date)) cookie.expires = date;
    }
  }
  if (maxAge !== undefined) cookie.expires = maxAge <= 0 ? -Infinity : now + maxAge * 1000;
  return cookie;
}

export class LoopbackCookies {
  readonly #cookies = new Map<string, StoredCookie>();

  /** Stores (or, when expired, removes) what one response's Set-Cookie headers say. */
  store(setCookies: readonly string[], url: string): void {
    if (setCookies.length === 0) return;
    const requestPath = new URL(url).pathname;
    const now = Date.now();
    for (const header of setCookies) {
      const cookie = parseSetCookie(header, requestPath, now);
      if (!cookie) continue;
      const key = `${cookie.path}\n${cookie.name}`;
      if (cookie.expires <= now) this.#cookies.delete(key);
      else this.#cookies.set(key, cookie);
    }
  }

  /** The Cookie header for a request to `url`: longer paths first (RFC 6265 5.4). */
  header(url: string): string {
    const requestPath = new URL(url).pathname;
    const now = Date.now();
    const sent: StoredCookie[] = [];
    for (const [key, cookie] of this.#cookies) {
      if (cookie.expires <= now) this.#cookies.delete(key);
      else if (pathMatches(requestPath, cookie.path)) sent.push(cookie);
    }
    sent.sort((a, b) => b.path.length - a.path.length);
    return sent.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
  }
}
