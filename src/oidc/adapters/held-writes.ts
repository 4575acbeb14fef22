import Provider from 'oidc-provider';
import { alreadyConsumed } from './errors.js';

/*
 * At a refresh with rotation (RFC 6749 section 6) oidc-provider consumes the old refresh token,
 * saves the new one, then saves the access token, each awaited before the next. On one Redis
 * server the adapter holds the consume back instead of sending it, adds the saves that follow it
 * in the same request, and sends them all as one script when the last save is awaited (or when a
 * read needs to go, or at the end of the event loop's turn at the latest). The script makes the
 * consume first and the saves only if it won: of two requests racing with one refresh token, the
 * loser leaves no tokens behind, and the winner's three writes are one command.
 */

/** One write of a batch: the keys it declares and its arguments, as the batch script reads them. */
export interface HeldWrite {
  op: 'consume' | 'save';
  model: string;
  keys: string[];
  args: string[];
}

/**
 * Sends a batch; resolves with 0 when every write was made, else with the 1-based position of
 * the consume that found its model consumed or gone (the writes after it were not made).
 */
export type SendBatch = (writes: HeldWrite[]) => Promise<number>;

interface Batch {
  writes: HeldWrite[];
  answered: Promise<void>;
  send(): void;
}

const byRequest = new WeakMap<object, Batch>();

function openBatch(ctx: object, sendBatch: SendBatch): Batch {
  let settle!: { resolve: () => void; reject: (err: unknown) => void };
  const answered = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // Whoever waits for it sees a failure; until then it must not count as unhandled.
  answered.catch(() => undefined);
  const batch: Batch = {
    writes: [],
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
  // Nothing waits on a batch for longer than this turn of the event loop.
  setImmediate(() => batch.send());
  return batch;
}

/**
 * Holds a consume back for this request's batch (opening one); resolves once the batch is
 * answered. Undefined outside a request (a test, the admin CLI): then the caller sends its own.
 */
export function holdConsume(write: HeldWrite, sendBatch: SendBatch): Promise<void> | undefined {
  const ctx = Provider.ctx;
  if (!ctx) return undefined;
  const batch = byRequest.get(ctx) ?? openBatch(ctx, sendBatch);
  batch.writes.push(write);
  return batch.answered;
}

/** Adds a save to this request's batch if it has one not yet sent; undefined otherwise. */
export function holdSave(write: HeldWrite): Promise<void> | undefined {
  const ctx = Provider.ctx;
  const batch = ctx ? byRequest.get(ctx) : undefined;
  if (!batch) return undefined;
  batch.writes.push(write);
  return batch.answered;
}

/** Sends this request's held writes now, if any: before a read, or when a save is awaited. */
export function sendHeldWrites(): void {
  const ctx = Provider.ctx;
  if (ctx) byRequest.get(ctx)?.send();
}
