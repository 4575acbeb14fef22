import Router from '@koa/router';
import type { Context } from 'koa';

/** A dependency check for readiness: resolves when the dependency serves, rejects otherwise. */
export type ReadinessCheck = () => Promise<void>;

export interface ProbeOptions {
  isDraining: () => boolean;
  /** Named checks, e.g. database, redis, migrations; each gets timeoutMs. */
  checks: Record<string, ReadinessCheck>;
  timeoutMs?: number;
  /** Told why a check failed (the answer itself only says "failed": it is public). */
  onFailure?: (name: string, err: unknown) => void;
}

function withTimeout(check: ReadinessCheck, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([check(), timeout]).finally(() => clearTimeout(timer));
}

/**
 * Kubernetes-style probes. `/livez`: the process answers (no dependency is asked, so a database
 * blip never restarts every instance). `/readyz`: send traffic here? 503 while draining or when
 * PostgreSQL, Redis or the schema is not there. `/healthz` is kept as an alias of `/readyz`.
 */
export function probeRoutes(options: ProbeOptions): Router {
  const timeoutMs = options.timeoutMs ?? 2000;
  const ready = async (ctx: Context) => {
    ctx.set('cache-control', 'no-store');
    const checks: Record<string, string> = {};
    let ok = true;
    if (options.isDraining()) {
      checks.draining = 'yes';
      ok = false;
    }
    await Promise.all(
      Object.entries(options.checks).map(async ([name, check]) => {
        try {
          await withTimeout(check, timeoutMs);
          checks[name] = 'ok';
        } catch (err) {
          checks[name] = 'failed';
          ok = false;
          options.onFailure?.(name, err);
        }
      }),
    );
    ctx.status = ok ? 200 : 503;
    ctx.body = { status: ok ? 'ready' : 'not ready', checks };
  };
  return new Router()
    .get('/livez', (ctx) => {
      ctx.set('cache-control', 'no-store');
      ctx.body = { status: 'alive' };
    })
    .get('/readyz', ready)
    .get('/healthz', ready);
}
