/**
 * RFC 6265bis 4.1.3.2: a cookie named `__Host-...` is accepted by browsers only when it is Secure,
 * has Path=/ and no Domain, so a sibling subdomain or a page on plain http can neither set nor
 * shadow it (cookie tossing). Every cookie Monban scopes to `/` (session, CSRF secret, notice,
 * language, and the `.sig` companions the cookies library derives from the name) carries the
 * prefix when the issuer is https. On an http issuer (local development) Secure cookies would
 * not be sent back, so the plain name is used there.
 */
export const HOST_PREFIX = '__Host-';

/** The name of a cookie scoped to `/`: `secure` is whether the issuer is https (ctx.secure). */
export function rootCookieName(secure: boolean, name: string): string {
  return secure ? `${HOST_PREFIX}${name}` : name;
}
