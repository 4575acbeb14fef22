import { sql } from 'kysely';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Db } from '../../db/database.js';
import { alreadyConsumed } from './errors.js';
import { DirectModelWriter, type ModelWriter } from './model-writes.js';

function toPayload(row: { payload: Record<string, unknown>; consumed_at: Date | null }): AdapterPayload {
  const payload = row.payload as AdapterPayload;
  if (row.consumed_at) payload.consumed = Math.floor(row.consumed_at.getTime() / 1000);
  return payload;
}

/**
 * oidc-provider models in PostgreSQL (the embedded default keeps them here when there is no
 * Redis). Expired rows are invisible at once and removed by `sweepExpired`. Upserts go through
 * `writer`: on PGlite, a GroupCommitModelWriter shared by every model.
 */
export class KyselyAdapter implements Adapter {
  constructor(
    private readonly db: Db,
    private readonly model: string,
    private readonly writer: ModelWriter = new DirectModelWriter(db),
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    await this.writer.write({
      model: this.model,
      id,
      payload: JSON.stringify(payload),
      grant_id: payload.grantId ?? null,
      user_code: payload.userCode ?? null,
      uid: payload.uid ?? null,
      expires_at: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
      consumed_at: payload.consumed ? new Date() : null,
    });
  }

  async #findWhere(column: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
    const row = await this.db
      .selectFrom('oidc_models')
      .select(['payload', 'consumed_at'])
      .where('model', '=', this.model)
      .where(column, '=', value)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
      .executeTakeFirst();
    return row ? toPayload(row) : undefined;
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return this.#findWhere('id', id);
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findWhere('uid', uid);
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findWhere('user_code', userCode);
  }

  /** Atomic: of two parallel consumers, the conditional UPDATE lets exactly one through. */
  async consume(id: string): Promise<void> {
    const updated = await this.db
      .updateTable('oidc_models')
      .set({ consumed_at: sql`now()` })
      .where('model', '=', this.model)
      .where('id', '=', id)
      .where('consumed_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    if (!updated) throw alreadyConsumed(this.model);
  }

  async destroy(id: string): Promise<void> {
    await this.db.deleteFrom('oidc_models').where('model', '=', this.model).where('id', '=', id).execute();
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.db.deleteFrom('oidc_models').where('model', '=', this.model).where('grant_id', '=', grantId).execute();
  }
}

/** Deletes rows that expired more than a grace period ago; returns how many went. */
export async function sweepExpired(db: Db): Promise<number> {
  const result = await db
    .deleteFrom('oidc_models')
    .where('expires_at', '<', sql<Date>`now() - interval '1 hour'`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
