import { servedRequest, servePage } from './served-request.js';
import type { Context, Next } from 'koa';
import { runDeferred, startHolding, stopHolding } from './held-writes.js';
import { RequestSlot } from './request-slot.js';

/*
 * Writes of the request being served that were sent to Redis but whose answer nobody has waited
 * for yet. oidc-provider awaits each write before the next: at the code exchange consuming the
 * code, then saving the access token; at a refresh with rotation (RFC 6749 section 6) consuming
 * the old refresh token, saving the new one, then saving the access token. The redis adapter
 * leaves a consume (and, at a refresh, the rotated refresh token) in flight and lets the
 * request's next adapter call wait for their answers with its own: on one server they are held
 * and sent as one script (held-writes.ts); on a cluster they are sent and share a round trip.
 *
 * Nothing is given to the client before that next call has waited: a consume lost to a racing
 * request (or any failed write) fails it, and oidc-provider answers `invalid_grant` (or the
 * outage) as before. settleWrites waits for anything still open before a response. On a page
 * (holdWritesUntilAnswered), every write is left in flight, held until the answer is ready.
 */

export type PipelinedWrite = 'consume' | 'save' | 'delete';

interface InFlight {
  model: string;
  write: PipelinedWrite;
  answered: Promise<unknown>;
}

const byRequest = new RequestSlot<InFlight[]>('monban.writesInFlight');

/**
 * Leaves a write in flight for this request's next adapter call to wait for. False outside a
 * request (a test, the admin CLI, the revoker): then the caller waits itself.
 */
export function leaveInFlight(model: string, write: PipelinedWrite, answered: Promise<unknown>): boolean {
  const ctx = servedRequest();
  if (!ctx) return false;
  // Whoever waits next sees a failure; until then it must not count as unhandled.
  answered.catch(() => undefined);
  const open = byRequest.get(ctx);
  if (open) open.push({ model, write, answered });
  else byRequest.set(ctx, [{ model, write, answered }]);
  return true;
}

function takeAnswers(ctx: object | undefined): Promise<unknown>[] {
  const open = ctx ? byRequest.get(ctx) : undefined;
  if (!ctx || !open) return [];
  byRequest.delete(ctx);
  return open.map((w) => w.answered);
}

/**
 * Waits for this request's writes in flight together with `own` (sent after them); own's result.
 * Not async: with nothing in flight (most reads) `own` itself is handed back, without the extra
 * promise and microtask turns an async function's return would add.
 */
export function withWritesInFlight<T>(own: Promise<T>): Promise<T> {
  const earlier = takeAnswers(servedRequest());
  if (earlier.length === 0) return own;
  return Promise.all([own, ...earlier]).then(([result]) => result);
}

/**
 * oidc-provider middleware: no response leaves while a write of its request is unanswered. A
 * failure here turns the answer into an error (koa's 500) rather than hand out what it names.
 */
export async function settleWrites(ctx: Context, next: Next): Promise<void> {
  await next();
  const open = takeAnswers(ctx);
  if (open.length) await Promise.all(open);
}

/**
 * Page middleware, inside the error handler: the page's writes are held (held-writes.ts) until
 * its answer is ready, then sent together and waited for, with the PostgreSQL writes it deferred,
 * so that a failure becomes the outage page instead of the answer. When the page failed anyway,
 * what it wrote before still goes.
 */
export async function holdWritesUntilAnswered(ctx: Context, next: Next): Promise<void> {
  startHolding(ctx);
  try {
    await servePage(ctx, next);
  } catch (err) {
    stopHolding(ctx);
    await Promise.allSettled([...takeAnswers(ctx), runDeferred(ctx)]);
    throw err;
  }
  stopHolding(ctx);
  const open = takeAnswers(ctx);
  await Promise.all([...open, runDeferred(ctx)]);
}
