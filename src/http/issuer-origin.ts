/**
 * Every request is treated as addressed to the issuer's origin. Koa builds `ctx.href`,
 * `ctx.host` and `ctx.secure` from the Host header, from an absolute request target
 * (`GET http://other.example/... HTTP/1.1`) and, behind a proxy, from X-Forwarded-Host and
 * -Proto; oidc-provider builds every URL in discovery and in its redirects from `ctx.href`. A
 * request naming another host would get metadata pointing there, and a shared cache in front
 * would hand it to every relying party (web cache poisoning, OWASP WSTG-INPV-17). Pinning host,
 * protocol and href to ISSUER answers a request for any other host with the issuer's own URLs,
 * so no response depends on those headers (health probes that name a pod's address keep
 * working). Koa documents app.request as the prototype to extend.
 */
export function pinOriginToIssuer(app: { request: object }, issuer: string): void {
  const { host, protocol, origin } = new URL(issuer);
  const scheme = protocol.slice(0, -1);
  Object.defineProperties(app.request, {
    host: { configurable: true, get: () => host },
    protocol: { configurable: true, get: () => scheme },
    href: {
      configurable: true,
      get(this: { originalUrl: string }) {
        const target = this.originalUrl;
        if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return `${origin}${target}`;
        const url = new URL(target);
        return `${origin}${url.pathname}${url.search}`;
      },
    },
  });
}
