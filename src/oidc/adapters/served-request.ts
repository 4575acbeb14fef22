import { AsyncLocalStorage } from 'node:async_hooks';
import Provider from 'oidc-provider';

/**
 * oidc-provider sets Provider.ctx only inside its own routes; Monban's pages (the login steps,
 * the console) run before its router, where it is not set. holdWritesUntilAnswered serves a page
 * inside this store, so that the adapter's per-request state (held writes, writes in flight,
 * prefetched models) is the page's too. Both name the same Koa context.
 */
const pages = new AsyncLocalStorage<object>();

/** The request being served: oidc-provider's, or a page's. Undefined outside one (a test, the CLI). */
export function servedRequest(): object | undefined {
  return Provider.ctx ?? pages.getStore();
}

/** Serves a page with `ctx` as its served request. */
export function servePage<T>(ctx: object, serve: () => Promise<T>): Promise<T> {
  return pages.run(ctx, serve);
}
