import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { SecretBox } from '../../security/secret-box.js';
import { ApiProblem } from './problem.js';
import type { Reply } from './operation.js';

/** How long an answer is kept for retries. */
const KEPT_HOURS = 24;
const KEY = /^[\x21-\x7e]{1,255}$/;

export const idempotencyContext = (clientId: string, key: string) => `idempotency:${clientId}:${key}`;

/**
 * Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): the first request with a key runs
 * and its answer is kept (sealed: a create's answer holds the new client's secret); a retry with
 * the same key and the same request gets that answer again instead of a second client. The same
 * key with another request is refused, and so is a retry while the first still runs.
 */
export async function idempotent(
  deps: { db: Db; box: SecretBox },
  clientId: string,
  key: string,
  request: { method: string; path: string; body: unknown },
  run: () => Promise<Reply>,
): Promise<Reply> {
  if (!KEY.test(key))
    throw new ApiProblem('INVALID_INPUT', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
  const hash = createHash('sha256')
    .update(JSON.stringify([request.method, request.path, request.body ?? null]))
    .digest('hex');
  const claimed = await deps.db
    .insertInto('admin_idempotency')
    .values({ client_id: clientId, key, request_hash: hash })
    .onConflict((oc) => oc.columns(['client_id', 'key']).doNothing())
    .returning('key')
    .executeTakeFirst();
  if (!claimed) {
    const kept = await deps.db
      .selectFrom('admin_idempotency')
      .select(['request_hash', 'status', 'body'])
      .where('client_id', '=', clientId)
      .where('key', '=', key)
      .executeTakeFirst();
    if (!kept) throw new ApiProblem('IDEMPOTENCY_KEY_IN_USE', 'try again');
    if (kept.request_hash !== hash) throw new ApiProblem('IDEMPOTENCY_KEY_REUSED');
    if (kept.status === null) throw new ApiProblem('IDEMPOTENCY_KEY_IN_USE');
    const sealed = (kept.body as { sealed: string }).sealed;
    const reply = JSON.parse(deps.box.openText(sealed, idempotencyContext(clientId, key))) as Reply;
    return { ...reply, headers: { ...reply.headers, 'idempotency-replayed': 'true' } };
  }
  let reply: Reply;
  try {
    reply = await run();
  } catch (err) {
    // Nothing was done: a retry with this key may run again.
    await deps.db.deleteFrom('admin_idempotency').where('client_id', '=', clientId).where('key', '=', key).execute();
    throw err;
  }
  await deps.db
    .updateTable('admin_idempotency')
    .set({
      status: reply.status,
      body: JSON.stringify({ sealed: deps.box.seal(JSON.stringify(reply), idempotencyContext(clientId, key)) }),
    })
    .where('client_id', '=', clientId)
    .where('key', '=', key)
    .execute();
  return reply;
}

/** Forgets answers older than a day (the sweeper calls it). */
export async function sweepIdempotencyKeys(db: Db): Promise<void> {
  await db
    .deleteFrom('admin_idempotency')
    .where('created_at', '<', sql<Date>`now() - make_interval(hours => ${KEPT_HOURS})`)
    .execute();
}
