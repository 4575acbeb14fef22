import { AsyncLocalStorage } from 'node:async_hooks';

/** The request being served, wherever the code is: the logger stamps its id on every line. */
export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}

export interface TraceIds {
  trace_id: string;
  span_id: string;
}

/** Set by tracing.ts when tracing is on; this module never loads OpenTelemetry itself. */
let readTraceIds: (() => TraceIds | undefined) | undefined;
let nameRoute: ((route: string) => void) | undefined;

export function setTraceHooks(
  hooks: { traceIds: () => TraceIds | undefined; nameRoute: (route: string) => void } | undefined,
): void {
  readTraceIds = hooks?.traceIds;
  nameRoute = hooks?.nameRoute;
}

/** Names the request's server span by its route pattern (the one the metrics use), when tracing is on. */
export function nameTracedRoute(route: string): void {
  nameRoute?.(route);
}

/** The active span's ids (OpenTelemetry's log field names), when tracing is on. */
export function currentTraceIds(): TraceIds | undefined {
  return readTraceIds?.();
}
