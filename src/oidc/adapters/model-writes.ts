import { CompiledQuery, sql } from 'kysely';
import type { Db } from '../../db/database.js';

/** One oidc-provider model as a row of oidc_models. */
export interface ModelRow {
  model: string;
  id: string;
  /** JSON text. */
  payload: string;
  grant_id: string | null;
  user_code: string | null;
  uid: string | null;
  expires_at: Date | null;
  consumed_at: Date | null;
}

const COLUMNS = ['model', 'id', 'payload', 'grant_id', 'user_code', 'uid', 'expires_at', 'consumed_at'] as const;

function inColumnOrder(row: ModelRow): ModelRow {
  const ordered: Partial<Record<keyof ModelRow, unknown>> = {};
  for (const column of COLUMNS) ordered[column] = row[column];
  return ordered as ModelRow;
}

function upsertQuery(db: Db, rows: ModelRow[]): CompiledQuery {
  return db
    .insertInto('oidc_models')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['model', 'id']).doUpdateSet({
        payload: (eb) => eb.ref('excluded.payload'),
        grant_id: (eb) => eb.ref('excluded.grant_id'),
        user_code: (eb) => eb.ref('excluded.user_code'),
        uid: (eb) => eb.ref('excluded.uid'),
        expires_at: (eb) => eb.ref('excluded.expires_at'),
        // A re-save never un-consumes a code or token.
        consumed_at: sql`coalesce(oidc_models.consumed_at, excluded.consumed_at)`,
      }),
    )
    .compile();
}

/** The statement's text depends only on how many rows it has: built once per count. */
const upsertTexts = new Map<number, string>();
const MAX_CACHED_TEXTS = 64;

/** Rows with distinct (model, id): ON CONFLICT DO UPDATE refuses to touch one row twice. */
async function upsertRows(db: Db, rows: ModelRow[]): Promise<void> {
  let text = upsertTexts.get(rows.length);
  if (text === undefined) {
    // The statement lists its columns as the first row's keys: in the order of COLUMNS here.
    text = upsertQuery(db, rows.map(inColumnOrder)).sql;
    if (rows.length <= MAX_CACHED_TEXTS) upsertTexts.set(rows.length, text);
  }
  await db.executeQuery(
    CompiledQuery.raw(
      text,
      rows.flatMap((row) => COLUMNS.map((column) => row[column])),
    ),
  );
}

/** Where KyselyAdapter sends its upserts. */
export interface ModelWriter {
  /** Resolves once the row is committed. */
  write(row: ModelRow): Promise<void>;
}

/** One statement per upsert: a pool of connections runs them side by side. */
export class DirectModelWriter implements ModelWriter {
  constructor(private readonly db: Db) {}

  write(row: ModelRow): Promise<void> {
    return upsertRows(this.db, [row]);
  }
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

interface PendingRow {
  row: ModelRow;
  waiters: Waiter[];
}

/** Keeps one statement's parameters (8 a row) well below PostgreSQL's 65535. */
const MAX_ROWS_PER_STATEMENT = 500;

/**
 * Group commit for a database with one connection (PGlite): each statement costs far more than
 * a row in it, and statements queue behind each other anyway. The upserts that arrive while one
 * statement runs go together in the next one, and each caller resolves only after that statement
 * committed, so nothing is acknowledged before it is on disk. Unloaded, a write goes alone, after
 * waiting for the event loop's check phase (setImmediate) and nothing else.
 */
export class GroupCommitModelWriter implements ModelWriter {
  readonly #pending = new Map<string, PendingRow>();
  #running = false;

  constructor(private readonly db: Db) {}

  write(row: ModelRow): Promise<void> {
    return new Promise((resolve, reject) => {
      const key = `${row.model}\u0000${row.id}`;
      const earlier = this.#pending.get(key);
      if (earlier) {
        // Two saves of one model in one statement would be refused: the later one wins, as it
        // would run second, but a consumed mark already given stays (see upsertRows).
        earlier.row = { ...row, consumed_at: earlier.row.consumed_at ?? row.consumed_at };
        earlier.waiters.push({ resolve, reject });
      } else {
        this.#pending.set(key, { row, waiters: [{ resolve, reject }] });
      }
      if (!this.#running) {
        this.#running = true;
        // Not a microtask: PGlite runs a statement without giving the event loop a turn, so
        // the requests already received must first each reach their save (setImmediate runs
        // after the poll phase that read them).
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#pending.size > 0) {
      const batch: PendingRow[] = [];
      for (const [key, pending] of this.#pending) {
        batch.push(pending);
        this.#pending.delete(key);
        if (batch.length === MAX_ROWS_PER_STATEMENT) break;
      }
      await this.#commit(batch);
    }
    this.#running = false;
  }

  async #commit(batch: PendingRow[]): Promise<void> {
    try {
      await upsertRows(
        this.db,
        batch.map((pending) => pending.row),
      );
      for (const pending of batch) for (const waiter of pending.waiters) waiter.resolve();
    } catch (err) {
      const [only] = batch;
      if (batch.length === 1 && only) {
        for (const waiter of only.waiters) waiter.reject(err);
        return;
      }
      // One bad row must not fail the saves it happened to share a statement with.
      for (const pending of batch) await this.#commit([pending]);
    }
  }
}
