// OpenTelemetry tracing. main.ts imports this module (and so any OpenTelemetry package) only when
// tracing is on, and before it imports the application: the loader hook registered here must be
// in place when pg, ioredis and node:http are first imported, or their ES-module imports
// would not be instrumented.
//
// Instrumented: node:http (a server span per request), pg and ioredis (a client span per statement
// or command). Outgoing calls use fetch (undici), which the http instrumentation does not see.
import * as nodeModule from 'node:module';
import { context, diag, DiagLogLevel, isSpanContextValid, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { getRPCMetadata, RPCType, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import {
  detectResources,
  resourceAttributesEnvDetector,
  resourceFromAttributes,
  serviceNameEnvDetector,
} from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { maskSecrets } from '../config/report.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { setTraceHooks } from './request-context.js';
import { register as registerLoaderHooks, supportsSyncHooks } from 'import-in-the-middle/register-hooks.mjs';

/** Only these go through import-in-the-middle's loader hook; every other module loads as usual. */
const INSTRUMENTED_MODULES = ['node:http', 'http', 'pg', 'pg-pool', 'ioredis'];
/** Probes and scrapes every few seconds would drown the traces that matter. */
const UNTRACED_PATHS = new Set(['/livez', '/readyz', '/healthz', '/metrics']);

export interface Tracing {
  /** Sends the spans still queued, then stops. */
  shutdown(): Promise<void>;
}

/**
 * A query string may carry a code or token (reset links, `id_token_hint`): spans keep the
 * parameter names only.
 */
function queryNamesOnly(url: string | undefined): string | undefined {
  const at = url?.indexOf('?') ?? -1;
  if (!url || at < 0) return undefined;
  return [...new URLSearchParams(url.slice(at + 1)).keys()].map((name) => `${name}=`).join('&');
}

export function startTracing(settings: Config['tracing'], logger: Logger): Tracing {
  // In-thread loader hooks (module.registerHooks); Node 22 before 22.22.3 only has the off-thread kind.
  if (supportsSyncHooks()) {
    registerLoaderHooks({ include: INSTRUMENTED_MODULES });
  } else {
    // eslint-disable-next-line @typescript-eslint/no-deprecated
    nodeModule.register('import-in-the-middle/hook.mjs', import.meta.url, { data: { include: INSTRUMENTED_MODULES } });
  }
  diag.setLogger(
    {
      error: (message, ...args) => logger.warn({ args }, `tracing: ${message}`),
      warn: (message, ...args) => logger.warn({ args }, `tracing: ${message}`),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    DiagLogLevel.WARN,
  );

  // Monban's settings first, then the standard OTEL_ variables, then the defaults.
  let resource = resourceFromAttributes({ 'service.name': 'monban' }).merge(
    detectResources({ detectors: [resourceAttributesEnvDetector, serviceNameEnvDetector] }),
  );
  if (settings.serviceName) resource = resource.merge(resourceFromAttributes({ 'service.name': settings.serviceName }));
  const exporter = new OTLPTraceExporter(
    settings.endpoint ? { url: `${settings.endpoint.replace(/\/+$/, '')}/v1/traces` } : {},
  );
  const provider = new TracerProvider({
    resource,
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor({ exporter })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);

  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      // Headers are not recorded (no headersToSpanAttributes): no Authorization, no cookies.
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0] ?? ''),
        requestHook: (span, request) => {
          if ('setHeader' in request) return; // an outgoing request: url.full already redacts known parameters
          const names = queryNamesOnly(request.url);
          if (names !== undefined) span.setAttribute('url.query', names);
        },
      }),
      // Statement text only (Kysely binds every value as a parameter); parameters are recorded
      // only with enhancedDatabaseReporting, which stays off. Background work (the courier's
      // polling) makes no root spans.
      new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false }),
      // The command name only: keys name sessions, codes and tokens by their secret ids.
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
    ],
  });

  setTraceHooks({
    traceIds() {
      const span = trace.getSpan(context.active())?.spanContext();
      return span && isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : undefined;
    },
    // No koa instrumentation: Monban's routers are mounted behind wrappers and oidc-provider routes
    // by itself, so it would see neither. The route the metrics use names the server span instead
    // (http.route, "POST /interaction/:uid/password"), as the http instrumentation reads it at the end.
    nameRoute(route) {
      const metadata = getRPCMetadata(context.active());
      if (metadata?.type === RPCType.HTTP) metadata.route = route;
    },
  });
  const { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: tracesEndpoint, OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint } = process.env;
  const endpoint = settings.endpoint ?? tracesEndpoint ?? otlpEndpoint ?? 'http://localhost:4318';
  logger.info(
    { endpoint: maskSecrets(endpoint), sampleRatio: settings.sampleRatio },
    'tracing is on (OpenTelemetry, OTLP/HTTP)',
  );
  return {
    async shutdown() {
      setTraceHooks(undefined);
      await provider.shutdown();
    },
  };
}
