import { createHash } from 'node:crypto';
import type { Context, Next } from 'koa';

/**
 * How long caches may keep discovery and the JWKS. Their bodies come from ISSUER and the keys
 * alone (see pinOriginToIssuer), never from the request, so a shared cache may serve them to
 * everyone. A key is published (staged) long before it signs anything, and a relying party that
 * meets an unknown `kid` fetches the JWKS again, so a few minutes cannot break a rotation.
 */
export const METADATA_MAX_AGE_SECONDS = 300;

export const METADATA_PATHS = ['/.well-known/openid-configuration', '/jwks'];

/**
 * RFC 9110 13.1.2: If-None-Match holds `*` or a list of entity tags, compared weakly. (Koa's
 * ctx.fresh also looks at the request's Cache-Control, and fetch() sends no-cache with every
 * conditional request, so it would never answer 304 to one.)
 */
function matches(ifNoneMatch: string, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

interface Cached {
  body: string;
  etag: string;
}

/**
 * Discovery and the JWKS, answered from a body kept in memory. oidc-provider builds both anew
 * for every request, though they only change when the process starts (configuration, keys:
 * a key rotation takes a restart); the first answer of each is kept, with a strong ETag so a
 * relying party that has it gets 304 (RFC 9110 8.8.3, 13.1.2). CORS as oidc-provider sends it
 * for these open endpoints: any origin.
 */
export function cachedMetadata() {
  const cache = new Map<string, Cached>();
  const serve = (ctx: Context, hit: Cached) => {
    ctx.vary('Origin');
    ctx.set('Access-Control-Allow-Origin', ctx.get('Origin') || '*');
    ctx.set('Cache-Control', `public, max-age=${METADATA_MAX_AGE_SECONDS}`);
    ctx.set('ETag', hit.etag);
    if (matches(ctx.get('If-None-Match'), hit.etag)) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'application/json; charset=utf-8';
    ctx.body = hit.body;
  };
  const fill = async (ctx: Context, next: Next): Promise<void> => {
    await next();
    if (ctx.status !== 200 || typeof ctx.body !== 'object' || ctx.body === null) return;
    const body = JSON.stringify(ctx.body);
    const fresh = { body, etag: `"${createHash('sha256').update(body).digest('base64url')}"` };
    cache.set(ctx.path, fresh);
    serve(ctx, fresh);
  };
  // Other requests go straight on, without a promise of this middleware's own.
  return (ctx: Context, next: Next): Promise<void> => {
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || !METADATA_PATHS.includes(ctx.path)) return next();
    const hit = cache.get(ctx.path);
    if (!hit) return fill(ctx, next);
    serve(ctx, hit);
    return Promise.resolve();
  };
}
