import type { AdapterPayload } from 'oidc-provider';
import { servedRequest } from './served-request.js';
import { RequestSlot } from './request-slot.js';

/*
 * Models read together with a token, for the request being served. oidc-provider reads a token
 * and then its grant, one after the other (refresh, userinfo, introspection, the code exchange),
 * and for a token that expires with its session, the session by its uid too
 * (checkSessionBinding). On one Redis server a single script reads all three (redis-adapter.ts),
 * and the next find of the grant or of the session by uid in the same request takes it from here
 * instead of asking Redis again. Introspection and revocation look a token up as an access token
 * and as a client credentials token at once (token_find.js): the read of the one brings the
 * other, still on its way when its own find asks. Kept per request (servedRequest), so no other
 * request sees it; taken once, and dropped when that model or a session is written.
 */
type Kept = AdapterPayload | null | Promise<AdapterPayload | null> | (() => AdapterPayload | null);

const byRequest = new RequestSlot<Map<string, Kept>>('monban.prefetchedModels');

function keptIn(): Map<string, Kept> | undefined {
  const ctx = servedRequest();
  return ctx ? byRequest.get(ctx) : undefined;
}

/**
 * Keeps what a key held (null: nothing), or the read that will tell, or how to decode a held
 * save (most are never read back: decoded only when a find takes it), for this request's next
 * find of it.
 */
export function keepPrefetched(key: string, stored: Kept): void {
  const ctx = servedRequest();
  if (!ctx) return;
  let kept = byRequest.get(ctx);
  if (!kept) {
    kept = new Map<string, Kept>();
    byRequest.set(ctx, kept);
  }
  kept.set(key, stored);
}

/** What was kept for the key in this request, once; undefined when nothing was. */
export function takePrefetched(key: string): Exclude<Kept, () => unknown> | undefined {
  const kept = keptIn();
  if (!kept?.has(key)) return undefined;
  const stored = kept.get(key) ?? null;
  kept.delete(key);
  return typeof stored === 'function' ? stored() : stored;
}

/** What the key names changes in this request: its next find reads Redis. */
export function dropPrefetched(key: string): void {
  keptIn()?.delete(key);
}

/** Every key kept under `start` (a model's pointers) changes in this request. */
export function dropPrefetchedUnder(start: string): void {
  const kept = keptIn();
  for (const key of kept?.keys() ?? []) if (key.startsWith(start)) kept?.delete(key);
}
