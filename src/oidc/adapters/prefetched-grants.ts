import Provider from 'oidc-provider';

/*
 * Grants read together with a token, for the request being served. oidc-provider reads a token
 * and then its grant, one after the other (refresh, userinfo, introspection, the code exchange);
 * on one Redis server a single script reads both (redis-adapter.ts), and the grant's next find in
 * the same request takes it from here instead of asking Redis again. Kept per request
 * (Provider.ctx), so no other request sees it; taken once, and dropped when the grant is written.
 */
const byRequest = new WeakMap<object, Map<string, string | null>>();

/** Keeps what a grant's key held (null: nothing) for this request's next find of it. */
export function keepPrefetched(key: string, stored: string | null): void {
  const ctx = Provider.ctx;
  if (!ctx) return;
  let kept = byRequest.get(ctx);
  if (!kept) {
    kept = new Map<string, string | null>();
    byRequest.set(ctx, kept);
  }
  kept.set(key, stored);
}

/** What was kept for the key in this request, once; undefined when nothing was. */
export function takePrefetched(key: string): string | null | undefined {
  const ctx = Provider.ctx;
  const kept = ctx ? byRequest.get(ctx) : undefined;
  if (!kept?.has(key)) return undefined;
  const stored = kept.get(key) ?? null;
  kept.delete(key);
  return stored;
}

/** The grant changes in this request: its next find reads Redis. */
export function dropPrefetched(key: string): void {
  const ctx = Provider.ctx;
  if (ctx) byRequest.get(ctx)?.delete(key);
}
