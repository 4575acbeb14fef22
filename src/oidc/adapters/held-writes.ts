import { servedRequest } from './served-request.js';
import { alreadyConsumed } from './errors.js';
import { RequestSlot } from './request-slot.js';

/*
 * On one Redis server the adapter holds a request's writes back and sends them together, as one
 * script, instead of one round trip each:
 *
 * - At a refresh with rotation (RFC 6749 section 6) oidc-provider consumes the old refresh token,
 *   saves the new one, then saves the access token, each awaited before the next. The consume is
 *   held, the saves that follow join it, and the batch goes when the last save is awaited (or a
 *   read needs to go, or at the end of the event loop's turn at the latest). The script makes the
 *   consume first and the saves only if it won: of two requests racing with one refresh token,
 *   the loser leaves no tokens behind, and the winner's three writes are one command.
 * - A page's writes (a login's resume deletes the interaction and saves the grant, the code and
 *   the session; a right password gives its attempt counters back, holdGiveBackOn in
 *   redis-adapter.ts) are held until the request reads from Redis or its answer is about to leave
 *   (holdWritesUntilAnswered, pipelined-writes.ts): they cannot lose a race, and a failure is an
 *   outage, which turns the whole answer into the outage page.
 *
 * Reads send the held writes first, so a request always reads what it wrote; a read of an
 * interaction it saved is answered with the save itself (KEPT_WHEN_HELD in redis-adapter.ts).
 */

/** One write of a batch: the keys it declares and its arguments, as the batch script reads them. */
export interface HeldWrite {
  op: 'consume' | 'save' | 'delete' | 'giveBack';
  model: string;
  keys: string[];
  args: string[];
  /** Sends this write alone, as its own command (a batch of one): 0, or 1 for a consume that lost. */
  alone(): Promise<number>;
}

/**
 * Sends a batch; resolves with 0 when every write was made, else with the 1-based position of
 * the consume that found its model consumed or gone (the writes after it were not made).
 */
export type SendBatch = (writes: HeldWrite[]) => Promise<number>;

interface Batch {
  writes: HeldWrite[];
  /** A consume is held: its answer must reach oidc-provider, so the batch goes this turn. */
  consumes: boolean;
  answered: Promise<void>;
  send(): void;
}

const byRequest = new RequestSlot<Batch>('monban.heldWrites');
/** Pages being answered: their writes wait for the answer (or the next read). */
const holding = new RequestSlot<true>('monban.holdingWrites');

function openBatch(ctx: object, sendBatch: SendBatch): Batch {
  let settle!: { resolve: () => void; reject: (err: unknown) => void };
  const answered = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // Whoever waits for it sees a failure; until then it must not count as unhandled.
  answered.catch(() => undefined);
  const batch: Batch = {
    writes: [],
    consumes: false,
    answered,
    send() {
      if (byRequest.get(ctx) !== batch) return;
      byRequest.delete(ctx);
      sendBatch(batch.writes).then((lost) => {
        const loser = batch.writes[lost - 1];
        if (loser) settle.reject(alreadyConsumed(loser.model));
        else settle.resolve();
      }, settle.reject);
    },
  };
  byRequest.set(ctx, batch);
  return batch;
}

/**
 * Holds a consume back for this request's batch (opening one); resolves once the batch is
 * answered. Undefined outside a request (a test, the admin CLI): then the caller sends its own.
 */
export function holdConsume(write: HeldWrite, sendBatch: SendBatch): Promise<void> | undefined {
  const ctx = servedRequest();
  if (!ctx) return undefined;
  const batch = byRequest.get(ctx) ?? openBatch(ctx, sendBatch);
  if (!batch.consumes) {
    batch.consumes = true;
    // Nothing waits on a consume for longer than this turn of the event loop.
    setImmediate(() => batch.send());
  }
  batch.writes.push(write);
  return batch.answered;
}

/** Whether a held write is a save of the model under `key`. */
function savesKey(write: HeldWrite, key: string | undefined): boolean {
  return write.op === 'save' && write.keys[0] === key;
}

/**
 * Holds a save or a delete for this request's batch: one a consume opened, or on a page a new
 * one. `afterConsume` says whether a consume is held before it, whose loss the caller must hear
 * about now. Undefined when there is nothing to join: then the caller sends its own.
 */
export function holdWrite(
  write: HeldWrite,
  sendBatch: SendBatch,
): { answered: Promise<void>; afterConsume: boolean } | undefined {
  const ctx = servedRequest();
  if (!ctx) return undefined;
  const batch = byRequest.get(ctx) ?? (holding.has(ctx) ? openBatch(ctx, sendBatch) : undefined);
  if (!batch) return undefined;
  // What the request saves and then deletes need not be saved at all: a login step's interaction,
  // saved with its result and deleted by the resume in the same request (resume-here.ts).
  if (write.op === 'delete') batch.writes = batch.writes.filter((held) => !savesKey(held, write.keys[0]));
  batch.writes.push(write);
  return { answered: batch.answered, afterConsume: batch.consumes };
}

/** Sends this request's held writes now, if any: before a read, or when a write is awaited. */
export function sendHeldWrites(ctx: object | undefined = servedRequest()): void {
  if (ctx) byRequest.get(ctx)?.send();
}

/** From now until `stopHolding`, this page's writes may wait for its answer. */
export function startHolding(ctx: object): void {
  holding.set(ctx, true);
}

const deferred = new RequestSlot<(() => Promise<void>)[]>('monban.deferredWrites');

/**
 * On a page being answered: `write` (a PostgreSQL write another one may take along) runs when
 * the answer is ready, unless it ran before. False elsewhere: then the caller writes now.
 */
export function deferUntilAnswered(write: () => Promise<void>): boolean {
  const ctx = servedRequest();
  if (!ctx || !holding.has(ctx)) return false;
  const writes = deferred.get(ctx);
  if (writes) writes.push(write);
  else deferred.set(ctx, [write]);
  return true;
}

/** Runs the page's deferred writes, one after the other. */
export async function runDeferred(ctx: object): Promise<void> {
  const writes = deferred.get(ctx) ?? [];
  deferred.delete(ctx);
  for (const write of writes) await write();
}

/** The page's answer is about to leave: its held writes go now, and later ones at once. */
export function stopHolding(ctx: object): void {
  holding.delete(ctx);
  sendHeldWrites(ctx);
}
