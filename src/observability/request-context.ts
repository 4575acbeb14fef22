import { AsyncLocalStorage } from 'node:async_hooks';

/** The request being served, wherever the code is: the logger stamps its id on every line. */
export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}
