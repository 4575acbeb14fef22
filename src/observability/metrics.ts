import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The process's Prometheus metrics (prom-client). One registry for the whole process: every
 * module registers its metrics here, and whatever serves /metrics reads it. Node's own process
 * metrics (CPU, memory, event-loop lag, GC, handles) are collected into it too.
 */
export const metrics = new Registry();

/**
 * How often the event-loop lag is sampled. prom-client's default, 10 ms, is a timer that wakes
 * the main thread 100 times a second, busy or idle: an idle server spent 7 ms of CPU a second
 * on it, and each wake-up on a loaded one is a context switch into cold caches. At 100 ms a
 * stall shorter than that is caught in proportion to its length, which is enough for the lag's
 * percentiles to show an event loop that keeps the logins waiting.
 */
const EVENT_LOOP_SAMPLE_MS = 100;
collectDefaultMetrics({ register: metrics, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });

/**
 * Text messages refused by a cap in front of the SMS provider (SMS pumping, a toll fraud): `cap`
 * is `ip`, `calling_code`, `global` or `country_not_allowed`. A rise in `global` means the provider is being pumped (or the cap is
 * too low): alert on it.
 */
export const smsRefused = new Counter({
  name: 'monban_sms_refused_total',
  help: 'Text messages not sent because a cap or the destination allow-list refused them',
  labelNames: ['cap'] as const,
  registers: [metrics],
});

/** Request latency by route pattern (never the raw path: ids would explode the series). */
export const httpDuration = new Histogram({
  name: 'monban_http_request_duration_seconds',
  help: 'HTTP request latency by method, route and status class',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [metrics],
});

/**
 * Security events by type, counted where the audit row is made: login.succeeded / login.failed /
 * login.throttled, mfa.*, password.reset, ... so logins, second factors, resets and throttle
 * refusals are all counted by result without a counter at each call site.
 */
export const securityEvents = new Counter({
  name: 'monban_security_events_total',
  help: 'Audited security events (logins, MFA, resets, throttle refusals, admin actions) by type',
  labelNames: ['type'] as const,
  registers: [metrics],
});

/** oidc-provider's own events: grant.success, grant.error, access_token.issued, ... */
export const oidcEvents = new Counter({
  name: 'monban_oidc_events_total',
  help: 'oidc-provider events by name',
  labelNames: ['event'] as const,
  registers: [metrics],
});

/**
 * The embedded database's thread (PGlite) ending without being asked, and attempts to start it
 * again that failed (src/db/restarting-thread.ts). Each stop fails the requests in flight with
 * 503; any increase is worth an alert, a steady one is a crash loop.
 */
export const embeddedDatabaseStops = new Counter({
  name: 'monban_embedded_database_stops_total',
  help: 'Times the embedded database (PGlite) thread ended without being asked',
  registers: [metrics],
});
export const embeddedDatabaseFailedStarts = new Counter({
  name: 'monban_embedded_database_failed_starts_total',
  help: 'Attempts to start the embedded database (PGlite) thread again that failed',
  registers: [metrics],
});

/** Values read when Prometheus scrapes: the outbox and the stores' health. */
export interface ScrapeSources {
  outbox?: () => Promise<{ pending: number; oldestPendingSeconds: number; failed: number }>;
  redisUp?: () => boolean;
  database?: () => { total: number; idle: number; waiting: number } | undefined;
}

const sources: ScrapeSources = {};

/** The app tells the metrics where to read (called once per process by createApp). */
export function setScrapeSources(next: ScrapeSources): void {
  Object.assign(sources, next);
}

async function readOutbox() {
  return sources.outbox ? sources.outbox().catch(() => undefined) : undefined;
}

new Gauge({
  name: 'monban_outbox_pending',
  help: 'Mails and texts waiting in the outbox',
  registers: [metrics],
  async collect() {
    const outbox = await readOutbox();
    if (outbox) this.set(outbox.pending);
  },
});
new Gauge({
  name: 'monban_outbox_oldest_pending_seconds',
  help: 'Age of the oldest message still waiting in the outbox',
  registers: [metrics],
  async collect() {
    const outbox = await readOutbox();
    if (outbox) this.set(outbox.oldestPendingSeconds);
  },
});
new Gauge({
  name: 'monban_outbox_failed',
  help: 'Messages the courier gave up on (max attempts reached)',
  registers: [metrics],
  async collect() {
    const outbox = await readOutbox();
    if (outbox) this.set(outbox.failed);
  },
});
new Gauge({
  name: 'monban_redis_up',
  help: '1 while the Redis connection is ready, 0 otherwise (absent without Redis)',
  registers: [metrics],
  collect() {
    if (sources.redisUp) this.set(sources.redisUp() ? 1 : 0);
  },
});
new Gauge({
  name: 'monban_db_pool_connections',
  help: 'PostgreSQL pool connections by state (total, idle, waiting requests)',
  labelNames: ['state'] as const,
  registers: [metrics],
  collect() {
    const pool = sources.database?.();
    if (!pool) return;
    this.set({ state: 'total' }, pool.total);
    this.set({ state: 'idle' }, pool.idle);
    this.set({ state: 'waiting' }, pool.waiting);
  },
});
